package dev.mesh.init;

import dev.mesh.local.netns.Host;
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
    rule("add").orThrow();
    route("replace", "local", "default", "dev", "lo").orThrow();
  }

  static void remove() {
    for (int i = 0; i < 16 && rule("del").result.exitCode() == 0; i++) {
      // each call removes one copy
    }
    route("flush");
  }

  private static Checked rule(String verb) {
    List<String> args = new java.util.ArrayList<>(List.of("rule", verb));
    args.addAll(RULE);
    return ip(args);
  }

  private static Checked route(String verb, String... args) {
    List<String> all = new java.util.ArrayList<>(List.of("route", verb));
    all.addAll(List.of(args));
    all.addAll(List.of("table", String.valueOf(CaptureSpec.TPROXY_TABLE)));
    return ip(all);
  }

  private static Checked ip(List<String> args) {
    List<String> cmd = new java.util.ArrayList<>(List.of("ip", "-f", "inet"));
    cmd.addAll(args);
    return new Checked(Iptables.run(cmd, null), String.join(" ", cmd));
  }

  private record Checked(Host.Result result, String what) {
    void orThrow() {
      if (result.exitCode() != 0) {
        throw new Iptables.Failure(
            what + " failed (exit " + result.exitCode() + "): " + result.stderr().strip());
      }
    }
  }
}
