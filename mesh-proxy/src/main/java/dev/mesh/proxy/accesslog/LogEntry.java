package dev.mesh.proxy.accesslog;

import io.netty.handler.codec.http.HttpHeaders;

/** What one request leaves for the access log. */
public record LogEntry(
    long startMillis,
    String method,
    String path,
    String authority,
    String protocol,
    int status,
    String flags,
    String codeDetails,
    long bytesReceived,
    long bytesSent,
    long durationMillis,
    HttpHeaders requestHeaders,
    HttpHeaders responseHeaders,
    String upstreamHost,
    String upstreamCluster,
    String upstreamLocalAddress,
    String downstreamLocalAddress,
    String downstreamRemoteAddress,
    String serverName,
    String routeName) {

  /** A header of the request or response; the HTTP/2 pseudo-headers as Envoy names them. */
  String header(String name, boolean request) {
    String n = name.toLowerCase(java.util.Locale.ROOT);
    if (request) {
      switch (n) {
        case ":method":
          return method;
        case ":path":
          return path;
        case ":authority":
          return authority;
        default:
          return requestHeaders == null ? null : requestHeaders.get(n);
      }
    }
    if (n.equals(":status")) {
      return Integer.toString(status);
    }
    return responseHeaders == null ? null : responseHeaders.get(n);
  }
}
