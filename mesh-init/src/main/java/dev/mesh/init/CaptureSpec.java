package dev.mesh.init;

import dev.mesh.api.MeshPorts;
import dev.mesh.api.ProxyUser;
import java.util.List;

/**
 * What to capture, as istio-iptables' flags say it. Empty lists mean none; {@code allOutbound} and
 * {@code allInbound} stand for {@code -i '*'} and {@code -b '*'}.
 */
record CaptureSpec(
    int outboundPort,
    int inboundPort,
    List<String> exemptUids,
    List<String> exemptGids,
    Mode mode,
    boolean allOutbound,
    List<String> includeOutboundCidrs,
    List<String> excludeOutboundCidrs,
    boolean allInbound,
    List<Integer> includeInboundPorts,
    List<Integer> excludeInboundPorts,
    List<Integer> includeOutboundPorts,
    List<Integer> excludeOutboundPorts) {

  enum Mode {
    REDIRECT,
    TPROXY
  }

  /** The mark TPROXY'd packets carry and the routing table that delivers them locally. */
  static final int TPROXY_MARK = 1337;

  static final int TPROXY_TABLE = 133;
  // Marks the proxy's own connections over loopback in TPROXY mode (Istio's value).
  static final int OWN_LOOPBACK_MARK = 1338;
  // HBONE, kept out of capture as Istio does.
  static final int HBONE_PORT = 15008;

  /** The sidecar's own ports, never captured inbound whatever the flags say. */
  List<Integer> ownPorts() {
    return java.util.Arrays.stream(MeshPorts.SIDECAR_OWN_PORTS).boxed().toList();
  }

  static String passthroughSource() {
    return ProxyUser.INBOUND_PASSTHROUGH_SOURCE + "/32";
  }
}
