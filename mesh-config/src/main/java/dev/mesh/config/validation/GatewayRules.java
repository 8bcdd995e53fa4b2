package dev.mesh.config.validation;

import static dev.mesh.config.validation.Problems.each;

import dev.mesh.config.networking.GatewaySpec;
import dev.mesh.config.networking.GatewaySpec.ServerTLSSettings;
import dev.mesh.config.networking.GatewaySpec.ServerTLSSettings.TLSmode;
import java.util.List;

final class GatewayRules {
  private GatewayRules() {}

  static final List<String> PROTOCOLS =
      List.of("HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS", "UDP");

  static void check(GatewaySpec spec, Problems p) {
    if (!p.required(spec.servers, "spec.servers")) {
      return;
    }
    each(
        spec.servers,
        "spec.servers",
        (s, at) -> {
          if (p.required(s.port, at + ".port")) {
            port(s.port, at + ".port", p);
          }
          if (p.required(s.hosts, at + ".hosts")) {
            each(s.hosts, at + ".hosts", (h, hat) -> p.required(h, hat));
          }
          boolean https = s.port != null && "HTTPS".equalsIgnoreCase(s.port.protocol);
          if (https && s.tls == null) {
            p.add(at + ".tls", "is required for an HTTPS server");
          }
          tls(s.tls, at + ".tls", p);
        });
  }

  static void port(dev.mesh.config.networking.Port port, String at, Problems p) {
    if (p.required(port.number, at + ".number")) {
      p.port(port.number, at + ".number");
    }
    p.port(port.targetPort, at + ".targetPort");
    if (port.protocol != null) {
      p.oneOf(port.protocol.toUpperCase(java.util.Locale.ROOT), PROTOCOLS, at + ".protocol");
    }
  }

  private static void tls(ServerTLSSettings tls, String at, Problems p) {
    if (tls == null || tls.credentialName != null || tls.credentialNames != null) {
      return;
    }
    if (tls.mode == TLSmode.SIMPLE || tls.mode == TLSmode.MUTUAL) {
      if (tls.serverCertificate == null || tls.privateKey == null) {
        p.add(at, tls.mode + " mode needs credentialName, or serverCertificate and privateKey");
      }
      if (tls.mode == TLSmode.MUTUAL && tls.caCertificates == null) {
        p.add(at + ".caCertificates", "is required in MUTUAL mode without credentialName");
      }
    }
  }
}
