package dev.mesh.proxy.cluster;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicInteger;

/** One upstream host of a cluster, with its weight and the requests it has in flight. */
public final class Endpoint {
  private final InetSocketAddress address;
  private final int weight;
  // Written once: every request's stream info and access log names its upstream host.
  private final String hostAndPort;
  private String hostname = "";
  private final AtomicInteger activeRequests = new AtomicInteger();
  final AtomicInteger consecutive5xx = new AtomicInteger();
  final AtomicInteger consecutiveGateway = new AtomicInteger();
  final AtomicInteger ejections = new AtomicInteger();
  volatile long ejectedUntilNanos;
  // Active health checking: a checked host is failing until it first passes, as in Envoy.
  volatile boolean activeHealthy = true;
  int hcPassesInARow;
  int hcFailuresInARow;
  boolean hcEverPassed;
  // The transport_socket_matches entry its metadata chose, or -1 for the cluster's own socket.
  int socketMatch = -1;

  public Endpoint(InetSocketAddress address, int weight) {
    this.address = address;
    this.weight = Math.max(1, weight);
    // The resolved address, as Envoy shows hosts, even when a DNS name found it.
    this.hostAndPort = address.getAddress().getHostAddress() + ":" + address.getPort();
  }

  public InetSocketAddress address() {
    return address;
  }

  /** The endpoint's hostname from its config, or empty. */
  public String hostname() {
    return hostname;
  }

  Endpoint withHostname(String name) {
    this.hostname = name == null ? "" : name;
    return this;
  }

  public int weight() {
    return weight;
  }

  public int activeRequests() {
    return activeRequests.get();
  }

  public void requestStarted() {
    activeRequests.incrementAndGet();
  }

  public void requestFinished() {
    activeRequests.decrementAndGet();
  }

  /** Ejected by outlier detection until a moment after {@code nowNanos}. */
  public boolean isEjected(long nowNanos) {
    long until = ejectedUntilNanos;
    return until != 0 && nowNanos - until < 0;
  }

  public boolean activeHealthy() {
    return activeHealthy;
  }

  /** Envoy's way of writing an upstream host: {@code 10.1.2.3:9080}. */
  @Override
  public String toString() {
    return hostAndPort;
  }
}
