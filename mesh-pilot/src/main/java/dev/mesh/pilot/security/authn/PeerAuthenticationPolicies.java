package dev.mesh.pilot.security.authn;

import dev.mesh.config.security.PeerAuthentication;
import dev.mesh.config.security.PeerAuthenticationSpec;
import dev.mesh.config.security.PeerAuthenticationSpec.MutualTLS;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Istio's precedence of PeerAuthentications: the narrowest scope wins (a workload selector in the
 * workload's namespace, then that namespace's policy without one, then the root namespace's); in a
 * scope the oldest one wins (by creationTimestamp, then by name so that the result does not depend
 * on the order pilot read them in); UNSET takes the parent's mode; {@code portLevelMtls} counts
 * only on a workload-selector policy. No policy at all is PERMISSIVE.
 */
public final class PeerAuthenticationPolicies {
  private PeerAuthenticationPolicies() {}

  /** Oldest first; Kubernetes timestamps are RFC 3339 in UTC, which sort as strings. */
  private static final Comparator<PeerAuthentication> OLDEST =
      Comparator.comparing(
              (PeerAuthentication p) ->
                  p.getMetadata().getCreationTimestamp() == null
                      ? ""
                      : p.getMetadata().getCreationTimestamp())
          .thenComparing(p -> p.getMetadata().getName());

  /** The policy of the workload with these labels in this namespace. */
  public static EffectivePeerAuthentication forWorkload(
      List<PeerAuthentication> all,
      String rootNamespace,
      String namespace,
      Map<String, String> labels) {
    PeerAuthentication mesh = null;
    PeerAuthentication ns = null;
    PeerAuthentication workload = null;
    for (PeerAuthentication pa : all) {
      String at = pa.getMetadata().getNamespace();
      if (!selects(pa)) {
        if (at.equals(rootNamespace)) {
          mesh = older(mesh, pa);
        } else if (at.equals(namespace)) {
          ns = older(ns, pa);
        }
      } else if (at.equals(namespace)
          && !at.equals(rootNamespace)
          && matches(pa.getSpec().selector.matchLabels, labels)) {
        workload = older(workload, pa);
      }
    }
    MtlsMode mode = MtlsMode.PERMISSIVE;
    mode = inherit(mode, mtls(mesh));
    mode = inherit(mode, mtls(ns));
    mode = inherit(mode, mtls(workload));
    Map<Integer, MtlsMode> perPort = new HashMap<>();
    if (workload != null && workload.getSpec().portLevelMtls != null) {
      for (var e : workload.getSpec().portLevelMtls.entrySet()) {
        // Validation refuses a key that is not a port; one that slips through is ignored.
        try {
          perPort.put(Integer.parseInt(e.getKey()), inherit(mode, e.getValue()));
        } catch (NumberFormatException ignored) {
          continue;
        }
      }
    }
    return new EffectivePeerAuthentication(mode, perPort);
  }

  /**
   * The mode a service's namespace is in, from the namespace and root namespace policies only: what
   * Istio's auto mTLS goes by, since a workload policy selects pods, not services.
   */
  public static MtlsMode forNamespace(
      List<PeerAuthentication> all, String rootNamespace, String namespace) {
    return forWorkload(all, rootNamespace, namespace, Map.of()).mode();
  }

  private static MutualTLS mtls(PeerAuthentication pa) {
    return pa == null || pa.getSpec() == null ? null : pa.getSpec().mtls;
  }

  private static boolean selects(PeerAuthentication pa) {
    PeerAuthenticationSpec spec = pa.getSpec();
    return spec != null
        && spec.selector != null
        && spec.selector.matchLabels != null
        && !spec.selector.matchLabels.isEmpty();
  }

  private static boolean matches(Map<String, String> selector, Map<String, String> labels) {
    for (var e : selector.entrySet()) {
      if (!e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  private static PeerAuthentication older(PeerAuthentication chosen, PeerAuthentication other) {
    return chosen == null || OLDEST.compare(other, chosen) < 0 ? other : chosen;
  }

  private static MtlsMode inherit(MtlsMode parent, MutualTLS mtls) {
    if (mtls == null || mtls.mode == null || mtls.mode == MutualTLS.Mode.UNSET) {
      return parent;
    }
    return MtlsMode.valueOf(mtls.mode.name());
  }
}
