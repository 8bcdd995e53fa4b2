package dev.mesh.config.security;

import dev.mesh.config.security.PeerAuthenticationSpec.MutualTLS;
import dev.mesh.config.security.PeerAuthenticationSpec.MutualTLS.Mode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Istio's precedence of PeerAuthentications for one workload, for whoever needs to know which mode
 * is in force without running pilot (meshctl's describe): the narrowest scope wins (a workload
 * selector in the workload's namespace, then that namespace's policy without one, then the root
 * namespace's without one); in a scope the oldest one wins (creationTimestamp, then name); UNSET
 * takes the parent's mode; {@code portLevelMtls} counts only on a workload-selector policy. No
 * policy at all is PERMISSIVE. A root-namespace policy with a selector applies to nobody.
 *
 * <p>Pilot translates with these same rules (its {@code PeerAuthenticationPolicies}).
 */
public final class PeerAuthenticationPrecedence {
  private PeerAuthenticationPrecedence() {}

  /**
   * What is in force for a workload.
   *
   * @param mode the workload's mode: never null, never UNSET
   * @param perPort the modes of the ports the winning workload policy names, by port
   * @param applied every policy that takes part, root namespace first, then the workload's
   *     namespace, each by age (what Istio lists as "Applied PeerAuthentication")
   */
  public record Effective(Mode mode, Map<Integer, Mode> perPort, List<PeerAuthentication> applied) {
    public Effective {
      perPort = java.util.Collections.unmodifiableMap(new TreeMap<>(perPort));
      applied = List.copyOf(applied);
    }

    public Mode forPort(int port) {
      return perPort.getOrDefault(port, mode);
    }
  }

  /** Oldest first; Kubernetes timestamps are RFC 3339 in UTC, which sort as strings. */
  private static final Comparator<PeerAuthentication> OLDEST =
      Comparator.comparing(
              (PeerAuthentication p) ->
                  p.getMetadata().getCreationTimestamp() == null
                      ? ""
                      : p.getMetadata().getCreationTimestamp())
          .thenComparing(p -> p.getMetadata().getName());

  /** The policy in force for the workload with these labels in this namespace. */
  public static Effective forWorkload(
      List<PeerAuthentication> all,
      String rootNamespace,
      String namespace,
      Map<String, String> labels) {
    List<PeerAuthentication> mesh = new ArrayList<>();
    List<PeerAuthentication> ns = new ArrayList<>();
    List<PeerAuthentication> workload = new ArrayList<>();
    for (PeerAuthentication pa : all) {
      String at = pa.getMetadata().getNamespace();
      if (!selects(pa)) {
        if (at.equals(rootNamespace)) {
          mesh.add(pa);
        } else if (at.equals(namespace)) {
          ns.add(pa);
        }
      } else if (at.equals(namespace)
          && !at.equals(rootNamespace)
          && dev.mesh.config.LabelSelectors.matches(pa.getSpec().selector.matchLabels, labels)) {
        workload.add(pa);
      }
    }
    mesh.sort(OLDEST);
    ns.sort(OLDEST);
    workload.sort(OLDEST);
    Mode mode = Mode.PERMISSIVE;
    mode = inherit(mode, mtls(first(mesh)));
    mode = inherit(mode, mtls(first(ns)));
    mode = inherit(mode, mtls(first(workload)));
    Map<Integer, Mode> perPort = new TreeMap<>();
    PeerAuthentication winner = first(workload);
    if (winner != null && winner.getSpec().portLevelMtls != null) {
      for (var e : winner.getSpec().portLevelMtls.entrySet()) {
        // Validation refuses a key that is not a port; one that slips through is ignored.
        try {
          perPort.put(Integer.parseInt(e.getKey()), inherit(mode, e.getValue()));
        } catch (NumberFormatException ignored) {
          continue;
        }
      }
    }
    List<PeerAuthentication> applied = new ArrayList<>(mesh);
    List<PeerAuthentication> local = new ArrayList<>(ns);
    local.addAll(workload);
    local.sort(OLDEST);
    applied.addAll(local);
    return new Effective(mode, perPort, applied);
  }

  private static PeerAuthentication first(List<PeerAuthentication> sorted) {
    return sorted.isEmpty() ? null : sorted.get(0);
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

  private static Mode inherit(Mode parent, MutualTLS mtls) {
    if (mtls == null || mtls.mode == null || mtls.mode == Mode.UNSET) {
      return parent;
    }
    return mtls.mode;
  }
}
