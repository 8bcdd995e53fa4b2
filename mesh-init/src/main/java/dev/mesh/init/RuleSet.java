package dev.mesh.init;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The capture rules for a spec, per table, in iptables-restore's rule syntax. Chains are Istio's
 * (ISTIO_INBOUND, ISTIO_REDIRECT, ISTIO_IN_REDIRECT, ISTIO_OUTPUT; in TPROXY mode also ISTIO_DIVERT
 * and ISTIO_TPROXY in mangle), so that what users know of Istio's rules reads the same here. Rules
 * in the built-in chains carry the comment {@value #TAG}: that is how a later run finds exactly
 * ours among anyone else's.
 */
final class RuleSet {
  static final String TAG = "mesh-init";
  static final List<String> NAT_CHAINS =
      List.of("ISTIO_INBOUND", "ISTIO_REDIRECT", "ISTIO_IN_REDIRECT", "ISTIO_OUTPUT");
  static final List<String> MANGLE_CHAINS =
      List.of("ISTIO_DIVERT", "ISTIO_TPROXY", "ISTIO_INBOUND");
  static final List<String> TABLES = List.of("nat", "mangle");

  /** One table's part: the chains it creates and its rules, in order. */
  record Table(List<String> chains, List<String> rules) {}

  private RuleSet() {}

  static Map<String, Table> of(CaptureSpec spec) {
    Map<String, Table> tables = new LinkedHashMap<>();
    tables.put("nat", new Table(NAT_CHAINS, nat(spec)));
    if (spec.mode() == CaptureSpec.Mode.TPROXY) {
      tables.put("mangle", new Table(MANGLE_CHAINS, mangle(spec)));
    }
    return tables;
  }

  static List<String> chains(String table) {
    return table.equals("nat") ? NAT_CHAINS : MANGLE_CHAINS;
  }

  private static String tagged(String rule) {
    return rule + " -m comment --comment " + TAG;
  }

  private static List<String> nat(CaptureSpec spec) {
    List<String> r = new ArrayList<>();
    r.add("-A ISTIO_INBOUND -p tcp --dport " + CaptureSpec.HBONE_PORT + " -j RETURN");
    r.add("-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports " + spec.outboundPort());
    r.add("-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports " + spec.inboundPort());
    boolean inbound = spec.allInbound() || !spec.includeInboundPorts().isEmpty();
    if (spec.mode() == CaptureSpec.Mode.REDIRECT && inbound) {
      r.add(tagged("-A PREROUTING -p tcp -j ISTIO_INBOUND"));
      if (spec.allInbound()) {
        for (int port : excludedInbound(spec)) {
          r.add("-A ISTIO_INBOUND -p tcp --dport " + port + " -j RETURN");
        }
        r.add("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT");
      } else {
        for (int port : includedInbound(spec)) {
          r.add("-A ISTIO_INBOUND -p tcp --dport " + port + " -j ISTIO_IN_REDIRECT");
        }
      }
    }
    r.add(tagged("-A OUTPUT -p tcp -j ISTIO_OUTPUT"));
    for (int port : spec.excludeOutboundPorts()) {
      r.add("-A ISTIO_OUTPUT -p tcp --dport " + port + " -j RETURN");
    }
    // The proxy's hand-off to the app comes from 127.0.0.6: never capture it again.
    r.add("-A ISTIO_OUTPUT -o lo -s " + CaptureSpec.passthroughSource() + " -j RETURN");
    owners(r, "--uid-owner", spec.exemptUids());
    owners(r, "--gid-owner", spec.exemptGids());
    r.add("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN");
    for (int port : spec.includeOutboundPorts()) {
      r.add("-A ISTIO_OUTPUT -p tcp --dport " + port + " -j ISTIO_REDIRECT");
    }
    for (String cidr : spec.excludeOutboundCidrs()) {
      r.add("-A ISTIO_OUTPUT -d " + cidr + " -j RETURN");
    }
    if (spec.allOutbound()) {
      r.add("-A ISTIO_OUTPUT -j ISTIO_REDIRECT");
    } else {
      for (String cidr : spec.includeOutboundCidrs()) {
        r.add("-A ISTIO_OUTPUT -d " + cidr + " -j ISTIO_REDIRECT");
      }
      r.add("-A ISTIO_OUTPUT -j RETURN");
    }
    return r;
  }

  /**
   * Loopback, as Istio treats it: the proxy (this owner) calling the pod's own address over lo is
   * sent to the inbound side, so the pod's own services are reached through their sidecar; anyone
   * else's loopback traffic is left alone; the owner's other traffic is never captured.
   */
  private static void owners(List<String> r, String match, List<String> owners) {
    for (String owner : owners) {
      r.add(
          "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport "
              + CaptureSpec.HBONE_PORT
              + " -m owner "
              + match
              + " "
              + owner
              + " -j ISTIO_IN_REDIRECT");
      r.add("-A ISTIO_OUTPUT -o lo -m owner ! " + match + " " + owner + " -j RETURN");
      r.add("-A ISTIO_OUTPUT -m owner " + match + " " + owner + " -j RETURN");
    }
  }

  private static List<String> mangle(CaptureSpec spec) {
    int mark = CaptureSpec.TPROXY_MARK;
    List<String> r = new ArrayList<>();
    r.add("-A ISTIO_DIVERT -j MARK --set-mark " + mark);
    r.add("-A ISTIO_DIVERT -j ACCEPT");
    r.add(
        "-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark "
            + mark
            + "/0xffffffff --on-port "
            + spec.inboundPort());
    boolean inbound = spec.allInbound() || !spec.includeInboundPorts().isEmpty();
    if (inbound) {
      r.add(tagged("-A PREROUTING -p tcp -j ISTIO_INBOUND"));
      r.add("-A ISTIO_INBOUND -p tcp -m mark --mark " + mark + " -j RETURN");
      r.add("-A ISTIO_INBOUND -p tcp -s " + CaptureSpec.passthroughSource() + " -i lo -j RETURN");
      r.add(
          "-A ISTIO_INBOUND -p tcp -i lo -m mark ! --mark "
              + CaptureSpec.OWN_LOOPBACK_MARK
              + " -j RETURN");
      r.add("-A ISTIO_INBOUND -p tcp --dport " + CaptureSpec.HBONE_PORT + " -j RETURN");
      if (spec.allInbound()) {
        for (int port : excludedInbound(spec)) {
          r.add("-A ISTIO_INBOUND -p tcp --dport " + port + " -j RETURN");
        }
        r.add("-A ISTIO_INBOUND -p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT");
        r.add("-A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY");
      } else {
        for (int port : includedInbound(spec)) {
          r.add(
              "-A ISTIO_INBOUND -p tcp --dport "
                  + port
                  + " -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT");
          r.add("-A ISTIO_INBOUND -p tcp --dport " + port + " -j ISTIO_TPROXY");
        }
      }
      r.add(tagged("-A PREROUTING -p tcp -m mark --mark " + mark + " -j CONNMARK --save-mark"));
    }
    r.add(tagged("-A OUTPUT -p tcp -o lo -m mark --mark " + mark + " -j RETURN"));
    for (String uid : spec.exemptUids()) {
      r.add(
          tagged(
              "-A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner "
                  + uid
                  + " -j MARK --set-mark "
                  + CaptureSpec.OWN_LOOPBACK_MARK));
    }
    for (String gid : spec.exemptGids()) {
      r.add(
          tagged(
              "-A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner "
                  + gid
                  + " -j MARK --set-mark "
                  + CaptureSpec.OWN_LOOPBACK_MARK));
    }
    r.add(tagged("-A OUTPUT -p tcp -m connmark --mark " + mark + " -j CONNMARK --restore-mark"));
    return r;
  }

  private static List<Integer> excludedInbound(CaptureSpec spec) {
    List<Integer> out = new ArrayList<>(spec.ownPorts());
    for (int p : spec.excludeInboundPorts()) {
      if (!out.contains(p)) {
        out.add(p);
      }
    }
    return out;
  }

  private static List<Integer> includedInbound(CaptureSpec spec) {
    return spec.includeInboundPorts().stream()
        .filter(p -> !spec.ownPorts().contains(p) && !spec.excludeInboundPorts().contains(p))
        .toList();
  }

  /** The iptables-restore input that creates the set on a clean table (what --dry-run prints). */
  static String fresh(Map<String, Table> tables) {
    StringBuilder b = new StringBuilder();
    tables.forEach(
        (name, t) -> {
          b.append('*').append(name).append('\n');
          for (String c : t.chains()) {
            b.append(':').append(c).append(" - [0:0]\n");
          }
          t.rules().forEach(rule -> b.append(rule).append('\n'));
          b.append("COMMIT\n");
        });
    return b.toString();
  }
}
