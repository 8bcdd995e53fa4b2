package dev.mesh.init;

import java.util.List;

/**
 * TPROXY's half outside iptables: packets marked {@value CaptureSpec#TPROXY_MARK} are routed by
 * table {@value CaptureSpec#TPROXY_TABLE}, whose one route delivers everything locally, so a
 * connection to any address reaches the proxy's transparent listener.
 */
final class TproxyRouting {
  private TproxyRouting() {}

  private static final List<String> RULE =
      List.of(
          "fwmark",
          String.valueOf(CaptureSpec.TPROXY_MARK),
          "lookup",
          String.valueOf(CaptureSpec.TPROXY_TABLE));

  static void add() {
    remove(); // one rule, however many times this runs
    ip("rule", "add").orThrow();
    Iptables.Result route =
        Iptables.run(
            List.of(
                "ip",
                "-f",
                "inet",
                "route",
                "replace",
                "local",
                "default",
                "dev",
                "lo",
                "table",
                String.valueOf(CaptureSpec.TPROXY_TABLE)),
            null);
    new Checked(route, "ip route replace local default dev lo table 133").orThrow();
  }

  static void remove() {
    for (int i = 0; i < 16 && ip("rule", "del").result.code() == 0; i++) {
      // each call removes one copy
    }
    Iptables.run(
        List.of(
            "ip",
            "-f",
            "inet",
            "route",
            "flush",
            "table",
            String.valueOf(CaptureSpec.TPROXY_TABLE)),
        null);
  }

  private static Checked ip(String object, String verb) {
    List<String> cmd = new java.util.ArrayList<>(List.of("ip", "-f", "inet", object, verb));
    cmd.addAll(RULE);
    return new Checked(Iptables.run(cmd, null), String.join(" ", cmd));
  }

  private record Checked(Iptables.Result result, String what) {
    void orThrow() {
      if (result.code() != 0) {
        throw new Iptables.Failure(
            what + " failed (exit " + result.code() + "): " + result.err().strip());
      }
    }
  }
}
