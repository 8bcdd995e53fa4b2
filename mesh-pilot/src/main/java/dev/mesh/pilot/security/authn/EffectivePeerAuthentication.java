package dev.mesh.pilot.security.authn;

import java.util.Map;

/**
 * What the PeerAuthentications in force say for one workload: a mode, and the modes of the ports a
 * workload-selector policy names ({@code portLevelMtls}, keyed by the workload's port).
 */
public record EffectivePeerAuthentication(MtlsMode mode, Map<Integer, MtlsMode> perPort) {
  /** Istio's default with no policy at all. */
  public static final EffectivePeerAuthentication DEFAULT =
      new EffectivePeerAuthentication(MtlsMode.PERMISSIVE, Map.of());

  public EffectivePeerAuthentication {
    perPort = Map.copyOf(new java.util.TreeMap<>(perPort));
  }

  public MtlsMode forPort(int port) {
    return perPort.getOrDefault(port, mode);
  }
}
