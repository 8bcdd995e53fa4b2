package dev.mesh.agent.proxy;

import dev.mesh.proxy.server.ProxyServer;

/**
 * What the agent reads of the proxy it hosts, from the server object rather than over the admin
 * port: Istio's readiness, and the connections a drain waits for.
 */
public final class ProxyReadiness {
  private ProxyReadiness() {}

  /**
   * Ready as Istio's agent means it: the proxy is LIVE and has applied clusters and listeners from
   * pilot at least once (not merely given up waiting for them at initial_fetch_timeout).
   */
  public static boolean ready(ProxyServer server) {
    return server.state() == ProxyServer.State.LIVE
        && server.stats().value("cluster_manager.cds.update_success") > 0
        && server.stats().value("listener_manager.lds.update_success") > 0;
  }

  /**
   * The sum of every {@code downstream_cx_active} gauge, the stat Istio's agent sums for
   * EXIT_ON_ZERO_ACTIVE_CONNECTIONS: connections still open to the proxy.
   */
  public static long activeConnections(ProxyServer server) {
    long sum = 0;
    for (String line : server.stats().text().lines().toList()) {
      int colon = line.lastIndexOf(": ");
      if (colon > 0 && line.substring(0, colon).endsWith("downstream_cx_active")) {
        try {
          sum += Long.parseLong(line.substring(colon + 2).strip());
        } catch (NumberFormatException e) {
          // not a number: not a gauge line
        }
      }
    }
    return sum;
  }
}
