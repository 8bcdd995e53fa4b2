package dev.mesh.proxy.listener;

import java.net.InetSocketAddress;
import java.util.List;

/**
 * What filter chain selection knows of a connection: its destination, and what the listener filters
 * found in its first bytes ({@code tls} or {@code raw_buffer}; the SNI; ALPN or sniffed protocols).
 */
public record ConnectionFacts(
    InetSocketAddress destination,
    String transportProtocol,
    String serverName,
    List<String> applicationProtocols) {

  /** What the listener filters recorded of a connection. */
  static ConnectionFacts of(dev.mesh.proxy.stream.ConnectionInfo info) {
    return new ConnectionFacts(
        info.localAddress(),
        info.transportProtocol(),
        info.requestedServerName(),
        info.applicationProtocols());
  }
}
