package dev.mesh.pilot.security.authz;

import dev.mesh.config.security.AuthorizationPolicy;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The AuthorizationPolicies that apply to a sidecar's workload, as Istio picks them: those of the
 * root namespace (all workloads, or those their selector matches, in every namespace) and those of
 * the workload's namespace (without a selector, or with one that matches its labels). Policies with
 * {@code targetRef(s)} attach to gateways and waypoints, never to sidecars.
 */
public final class AuthorizationPolicies {
  private AuthorizationPolicies() {}

  private static final Comparator<AuthorizationPolicy> BY_NAME =
      Comparator.comparing((AuthorizationPolicy p) -> p.getMetadata().getNamespace())
          .thenComparing(p -> p.getMetadata().getName());

  public static List<AuthorizationPolicy> forWorkload(
      List<AuthorizationPolicy> all,
      String rootNamespace,
      String namespace,
      Map<String, String> labels) {
    List<AuthorizationPolicy> out = new ArrayList<>();
    for (AuthorizationPolicy p : all) {
      String at = p.getMetadata().getNamespace();
      var spec = p.getSpec();
      if (spec == null
          || spec.targetRef != null
          || spec.targetRefs != null && !spec.targetRefs.isEmpty()) {
        continue;
      }
      if (!at.equals(rootNamespace) && !at.equals(namespace)) {
        continue;
      }
      var selector = spec.selector == null ? null : spec.selector.matchLabels;
      if (dev.mesh.config.LabelSelectors.matches(selector, labels)) {
        out.add(p);
      }
    }
    out.sort(BY_NAME);
    return out;
  }
}
