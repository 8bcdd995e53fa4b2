package dev.mesh.config.served;

import dev.mesh.config.IstioStatus;
import dev.mesh.config.networking.VirtualServiceSpec;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** networking.istio.io/v1alpha3 VirtualService, served with the v1 schema. */
@Group("networking.istio.io")
@Version(value = "v1alpha3", storage = false)
@Kind("VirtualService")
@Plural("virtualservices")
@Singular("virtualservice")
public class VirtualServiceV1alpha3 extends CustomResource<VirtualServiceSpec, IstioStatus>
    implements Namespaced {}
