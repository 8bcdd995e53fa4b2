package dev.mesh.config.security;

import dev.mesh.config.IstioResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * How traffic is tunnelled to the workloads it selects (mutual TLS): security.istio.io/v1
 * PeerAuthentication.
 */
@Group("security.istio.io")
@Version("v1")
@Kind("PeerAuthentication")
@Plural("peerauthentications")
@Singular("peerauthentication")
@ShortNames("pa")
public class PeerAuthentication extends IstioResource<PeerAuthenticationSpec> {}
