package dev.mesh.config.networking;

import dev.mesh.config.IstioResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** A load balancer at the edge of the mesh: networking.istio.io/v1 Gateway. */
@Group("networking.istio.io")
@Version("v1")
@Kind("Gateway")
@Plural("gateways")
@Singular("gateway")
@ShortNames("gw")
public class Gateway extends IstioResource<GatewaySpec> {}
