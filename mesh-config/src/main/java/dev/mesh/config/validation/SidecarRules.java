package dev.mesh.config.validation;

import static dev.mesh.config.validation.Problems.each;

import dev.mesh.config.networking.SidecarSpec;

final class SidecarRules {
  private SidecarRules() {}

  static void check(SidecarSpec spec, Problems p) {
    if ((spec.egress == null || spec.egress.isEmpty())
        && (spec.ingress == null || spec.ingress.isEmpty())
        && spec.outboundTrafficPolicy == null
        && spec.inboundConnectionPool == null) {
      p.add("spec", "empty configuration: set egress, ingress or outboundTrafficPolicy");
    }
    each(
        spec.ingress,
        "spec.ingress",
        (in, at) -> {
          if (p.required(in.port, at + ".port")) {
            GatewayRules.port(in.port, at + ".port", p);
          }
        });
    each(
        spec.egress,
        "spec.egress",
        (out, at) -> {
          if (out.port != null) {
            GatewayRules.port(out.port, at + ".port", p);
          }
          if (p.required(out.hosts, at + ".hosts")) {
            each(out.hosts, at + ".hosts", (h, hat) -> egressHost(h, hat, p));
          }
        });
  }

  /** Istio's form: {@code namespace/dnsName}, namespace being a name, "*", "." or "~". */
  private static void egressHost(String host, String at, Problems p) {
    if (!p.required(host, at)) {
      return;
    }
    int slash = host.indexOf('/');
    if (slash <= 0 || slash == host.length() - 1 || host.indexOf('/', slash + 1) >= 0) {
      p.add(at, "must be of the form namespace/dnsName, got \"" + host + "\"");
    }
  }
}
