package dev.mesh.config.networking;

import dev.mesh.config.IstioResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** The scope and listeners of the sidecars it selects: networking.istio.io/v1 Sidecar. */
@Group("networking.istio.io")
@Version("v1")
@Kind("Sidecar")
@Plural("sidecars")
@Singular("sidecar")
public class Sidecar extends IstioResource<SidecarSpec> {}
