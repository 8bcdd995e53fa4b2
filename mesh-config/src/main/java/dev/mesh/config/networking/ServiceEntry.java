package dev.mesh.config.networking;

import dev.mesh.config.IstioResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** A service added to the mesh's registry: networking.istio.io/v1 ServiceEntry. */
@Group("networking.istio.io")
@Version("v1")
@Kind("ServiceEntry")
@Plural("serviceentries")
@Singular("serviceentry")
@ShortNames("se")
public class ServiceEntry extends IstioResource<ServiceEntrySpec> {}
