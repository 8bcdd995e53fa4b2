package dev.mesh.config.networking;

import dev.mesh.config.IstioResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** Policies applied after routing: networking.istio.io/v1 DestinationRule. */
@Group("networking.istio.io")
@Version("v1")
@Kind("DestinationRule")
@Plural("destinationrules")
@Singular("destinationrule")
@ShortNames("dr")
public class DestinationRule extends IstioResource<DestinationRuleSpec> {}
