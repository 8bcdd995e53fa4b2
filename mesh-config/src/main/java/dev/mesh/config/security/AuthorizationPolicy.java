package dev.mesh.config.security;

import dev.mesh.config.IstioResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** Access control on the workloads it selects: security.istio.io/v1 AuthorizationPolicy. */
@Group("security.istio.io")
@Version("v1")
@Kind("AuthorizationPolicy")
@Plural("authorizationpolicies")
@Singular("authorizationpolicy")
@ShortNames("ap")
public class AuthorizationPolicy extends IstioResource<AuthorizationPolicySpec> {}
