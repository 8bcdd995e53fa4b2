package dev.mesh.config.networking;

import dev.mesh.config.IstioResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** Routing rules applied when a host is addressed: networking.istio.io/v1 VirtualService. */
@Group("networking.istio.io")
@Version("v1")
@Kind("VirtualService")
@Plural("virtualservices")
@Singular("virtualservice")
@ShortNames("vs")
public class VirtualService extends IstioResource<VirtualServiceSpec> {}
