package dev.mesh.pilot.security.authn;

import dev.mesh.config.security.PeerAuthentication;
import dev.mesh.config.security.PeerAuthenticationPrecedence;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Istio's precedence of PeerAuthentications (mesh-config's {@link PeerAuthenticationPrecedence},
 * which meshctl's describe shares), in the modes pilot translates.
 */
public final class PeerAuthenticationPolicies {
  private PeerAuthenticationPolicies() {}

  /** The policy of the workload with these labels in this namespace. */
  public static EffectivePeerAuthentication forWorkload(
      List<PeerAuthentication> all,
      String rootNamespace,
      String namespace,
      Map<String, String> labels) {
    PeerAuthenticationPrecedence.Effective e =
        PeerAuthenticationPrecedence.forWorkload(all, rootNamespace, namespace, labels);
    Map<Integer, MtlsMode> perPort = new HashMap<>();
    e.perPort().forEach((port, mode) -> perPort.put(port, MtlsMode.valueOf(mode.name())));
    return new EffectivePeerAuthentication(MtlsMode.valueOf(e.mode().name()), perPort);
  }

  /**
   * The mode a service's namespace is in, from the namespace and root namespace policies only: what
   * Istio's auto mTLS goes by, since a workload policy selects pods, not services.
   */
  public static MtlsMode forNamespace(
      List<PeerAuthentication> all, String rootNamespace, String namespace) {
    return forWorkload(all, rootNamespace, namespace, Map.of()).mode();
  }
}
