package dev.mesh.pilot.model;

import java.util.Locale;

/**
 * A service port's protocol, chosen as Istio chooses it: the port's appProtocol, else the prefix of
 * its name ({@code http}, {@code http-web}, {@code grpc-api}, ...); a port that says neither is
 * sniffed ({@link #AUTO}): its connections are HTTP when they look like HTTP, else TCP.
 */
public enum Protocol {
  HTTP,
  HTTP2,
  GRPC,
  TCP,
  AUTO;

  /** Whether every connection to it is HTTP. */
  public boolean isHttp() {
    return this == HTTP || this == HTTP2 || this == GRPC;
  }

  /** Whether upstream connections for it speak HTTP/2. */
  public boolean http2Upstream() {
    return this == HTTP2 || this == GRPC;
  }

  public static Protocol of(String appProtocol, String portName) {
    if (appProtocol != null && !appProtocol.isEmpty()) {
      Protocol p = byName(appProtocol);
      if (p != null) {
        return p;
      }
    }
    if (portName == null) {
      return AUTO;
    }
    String n = portName.toLowerCase(Locale.ROOT);
    int dash = n.indexOf('-');
    Protocol p = byName(dash < 0 ? n : n.substring(0, dash));
    return p == null ? AUTO : p;
  }

  private static Protocol byName(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "http", "grpc-web", "kubernetes.io/h2c" ->
          name.equals("kubernetes.io/h2c") ? HTTP2 : HTTP;
      case "http2" -> HTTP2;
      case "grpc" -> GRPC;
      case "tcp", "tls", "https", "mongo", "mysql", "redis" -> TCP;
      default -> null;
    };
  }
}
