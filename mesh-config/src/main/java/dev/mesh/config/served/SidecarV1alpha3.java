package dev.mesh.config.served;

import dev.mesh.config.IstioStatus;
import dev.mesh.config.networking.SidecarSpec;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** networking.istio.io/v1alpha3 Sidecar, served with the v1 schema. */
@Group("networking.istio.io")
@Version(value = "v1alpha3", storage = false)
@Kind("Sidecar")
@Plural("sidecars")
@Singular("sidecar")
public class SidecarV1alpha3 extends CustomResource<SidecarSpec, IstioStatus>
    implements Namespaced {}
