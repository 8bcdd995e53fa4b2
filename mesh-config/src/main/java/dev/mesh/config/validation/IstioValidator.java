package dev.mesh.config.validation;

import dev.mesh.config.ConfigError;
import dev.mesh.config.IstioKind;
import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.Gateway;
import dev.mesh.config.networking.ServiceEntry;
import dev.mesh.config.networking.Sidecar;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.config.security.PeerAuthentication;
import io.fabric8.kubernetes.client.CustomResource;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The checks Istio's validating webhook makes, per kind: what would be refused at {@code kubectl
 * apply} in Istio is refused here with the document and field named.
 */
public final class IstioValidator {
  private IstioValidator() {}

  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  public static List<ConfigError> validate(
      IstioKind kind, String ref, CustomResource<?, ?> resource) {
    Problems p = new Problems(kind.kind(), ref);
    String name = resource.getMetadata() == null ? null : resource.getMetadata().getName();
    if (p.required(name, "metadata.name")
        && (name.length() > 253 || !DNS1123_SUBDOMAIN.matcher(name).matches())) {
      p.add("metadata.name", "must be a lowercase DNS subdomain name, got \"" + name + "\"");
    }
    if (p.required(resource.getSpec(), "spec")) {
      switch (kind) {
        case VIRTUAL_SERVICE -> VirtualServiceRules.check(((VirtualService) resource).getSpec(), p);
        case DESTINATION_RULE ->
            DestinationRuleRules.check(((DestinationRule) resource).getSpec(), p);
        case GATEWAY -> GatewayRules.check(((Gateway) resource).getSpec(), p);
        case SERVICE_ENTRY -> ServiceEntryRules.check(((ServiceEntry) resource).getSpec(), p);
        case SIDECAR -> SidecarRules.check(((Sidecar) resource).getSpec(), p);
        case PEER_AUTHENTICATION ->
            SecurityRules.check(((PeerAuthentication) resource).getSpec(), p);
        case AUTHORIZATION_POLICY ->
            SecurityRules.check(((AuthorizationPolicy) resource).getSpec(), p);
      }
    }
    return p.errors();
  }
}
