package dev.mesh.proxy.cluster;

import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.HealthStatus;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * A cluster as configured: its endpoints (resolved for the DNS types), its load balancer and its
 * stats. Replaced whole when its config changes.
 */
public final class UpstreamCluster {
  private static final Logger LOG = Logger.getLogger(UpstreamCluster.class.getName());

  private final Cluster config;
  private final LoadBalancer loadBalancer;
  private final Duration connectTimeout;
  private volatile List<Endpoint> endpoints;
  final ClusterStats stats;
  private final CircuitBreakers circuitBreakers;
  private final OutlierDetector outlierDetector;
  private final java.util.concurrent.ConcurrentHashMap<java.net.InetSocketAddress, Endpoint>
      originalHosts = new java.util.concurrent.ConcurrentHashMap<>();
  private final java.net.InetSocketAddress sourceAddress;
  private final dev.mesh.proxy.tls.TlsContext tls;
  private final List<SocketMatch> socketMatches;
  // Which transport_socket_matches entry each host uses; empty when the cluster has none.
  private volatile java.util.Map<InetSocketAddress, Integer> socketMatchByHost = java.util.Map.of();
  private static final String SOCKET_MATCH_FILTER = "envoy.transport_socket_match";

  /** A transport_socket_matches entry: hosts whose metadata has all of match's fields use tls. */
  private record SocketMatch(
      String name, com.google.protobuf.Struct match, dev.mesh.proxy.tls.TlsContext tls) {}

  private final boolean http2;

  /** The stats Envoy keeps per cluster. */
  public static final class ClusterStats {
    public final Stats.Counter rqTotal;
    private final dev.mesh.proxy.stats.StatusClassCounters byClass;
    public final Stats.Counter rqRetry;
    public final Stats.Counter rqTimeout;
    public final Stats.Counter cxTotal;
    public final Stats.Counter cxConnectFail;
    public final Stats.Counter cxConnectTimeout;
    public final Stats.Counter noHealthyHost;
    public final Stats.Gauge rqActive;
    public final Stats.Gauge cxActive;
    public final Stats.Counter rqPendingOverflow;
    public final Stats.Counter retryOverflow;
    public final Stats.Counter ejectionsEnforced;
    public final Stats.Counter ejectionsOverflow;
    public final Stats.Counter sslHandshake;
    public final Stats.Counter sslConnectionError;

    ClusterStats(Stats stats, String name) {
      Stats.Scope s = Stats.Scope.cluster(name);
      rqTotal = stats.counter(s, "upstream_rq_total");
      byClass = new dev.mesh.proxy.stats.StatusClassCounters(stats, s, "upstream_rq");
      rqRetry = stats.counter(s, "upstream_rq_retry");
      rqTimeout = stats.counter(s, "upstream_rq_timeout");
      cxTotal = stats.counter(s, "upstream_cx_total");
      cxConnectFail = stats.counter(s, "upstream_cx_connect_fail");
      cxConnectTimeout = stats.counter(s, "upstream_cx_connect_timeout");
      noHealthyHost = stats.counter(s, "upstream_cx_none_healthy");
      rqActive = stats.gauge(s, "upstream_rq_active");
      cxActive = stats.gauge(s, "upstream_cx_active");
      rqPendingOverflow = stats.counter(s, "upstream_rq_pending_overflow");
      retryOverflow = stats.counter(s, "upstream_rq_retry_overflow");
      ejectionsEnforced = stats.counter(s, "outlier_detection.ejections_enforced_total");
      ejectionsOverflow = stats.counter(s, "outlier_detection.ejections_overflow");
      sslHandshake = stats.counter(s, "ssl.handshake");
      sslConnectionError = stats.counter(s, "ssl.connection_error");
    }

    public void response(int status) {
      byClass.record(status);
    }
  }

  private HealthChecker healthChecker;

  UpstreamCluster(Cluster config, Stats stats, dev.mesh.proxy.secret.SecretManager secrets) {
    this.config = config;
    String where = "cluster " + config.getName();
    this.tls = dev.mesh.proxy.tls.TlsContexts.upstream(config.getTransportSocket(), secrets, where);
    List<SocketMatch> matches = new ArrayList<>();
    for (var m : config.getTransportSocketMatchesList()) {
      matches.add(
          new SocketMatch(
              m.getName(),
              m.getMatch(),
              dev.mesh.proxy.tls.TlsContexts.upstream(
                  m.getTransportSocket(),
                  secrets,
                  where + " transport_socket_matches " + m.getName())));
    }
    this.socketMatches = List.copyOf(matches);
    this.loadBalancer = LoadBalancer.of(config.getLbPolicy());
    this.connectTimeout =
        ProtoDurations.orDefault(
            config.hasConnectTimeout(), config.getConnectTimeout(), Duration.ofSeconds(5));
    this.stats = new ClusterStats(stats, config.getName());
    this.circuitBreakers = new CircuitBreakers(config.getCircuitBreakers());
    this.outlierDetector =
        config.hasOutlierDetection()
            ? new OutlierDetector(config.getOutlierDetection(), this.stats)
            : null;
    setEndpoints(
        config.getType() == Cluster.DiscoveryType.EDS
            ? List.of()
            : resolve(config.getLoadAssignment()));
    this.http2 = speaksHttp2(config);
    this.sourceAddress =
        config.getUpstreamBindConfig().hasSourceAddress()
            ? new java.net.InetSocketAddress(
                config.getUpstreamBindConfig().getSourceAddress().getAddress(),
                config.getUpstreamBindConfig().getSourceAddress().getPortValue())
            : null;
  }

  /** Whether requests go to this cluster's hosts over HTTP/2 rather than HTTP/1.1. */
  public boolean http2() {
    return http2;
  }

  private static final String HTTP_PROTOCOL_OPTIONS =
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

  private static boolean speaksHttp2(Cluster config) {
    if (config.hasHttp2ProtocolOptions()) {
      return true;
    }
    var options = config.getTypedExtensionProtocolOptionsMap().get(HTTP_PROTOCOL_OPTIONS);
    if (options == null) {
      return false;
    }
    try {
      var http =
          options.unpack(
              io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.class);
      return http.getExplicitHttpConfig().hasHttp2ProtocolOptions();
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new dev.mesh.proxy.config.ConfigRejectedException(
          "cluster " + config.getName() + ": " + HTTP_PROTOCOL_OPTIONS + " cannot be read", e);
    }
  }

  /**
   * The transport socket of connections to {@code host}: the first transport_socket_matches entry
   * its metadata matched, else the cluster's transport_socket; null for plaintext.
   */
  public dev.mesh.proxy.tls.TlsContext tlsFor(InetSocketAddress host) {
    Integer match = socketMatchByHost.get(host);
    return match == null || match < 0 ? tls : socketMatches.get(match).tls();
  }

  /** The cluster's own transport_socket (no host matched): its TLS, or null for plaintext. */
  public dev.mesh.proxy.tls.TlsContext defaultTls() {
    return tls;
  }

  /** The TLS contexts of its transport sockets (for /certs). */
  public List<dev.mesh.proxy.tls.TlsContext> tlsContexts() {
    List<dev.mesh.proxy.tls.TlsContext> out = new ArrayList<>();
    if (tls != null) {
      out.add(tls);
    }
    for (SocketMatch m : socketMatches) {
      if (m.tls() != null) {
        out.add(m.tls());
      }
    }
    return out;
  }

  /**
   * Whether the SDS secrets of this cluster's transport sockets arrived (or stopped being waited
   * for); until then the cluster warms, as Envoy's clusters do.
   */
  boolean ready() {
    return tlsContexts().stream().allMatch(dev.mesh.proxy.tls.TlsContext::ready);
  }

  void onTlsChange(Runnable r) {
    tlsContexts().forEach(t -> t.onChange(r));
  }

  List<String> awaitedSecrets() {
    return tlsContexts().stream()
        .filter(t -> !t.ready())
        .flatMap(t -> t.secrets().stream())
        .distinct()
        .toList();
  }

  private void setEndpoints(List<Endpoint> next) {
    if (!socketMatches.isEmpty()) {
      java.util.Map<InetSocketAddress, Integer> index = new java.util.HashMap<>();
      for (Endpoint e : next) {
        index.put(e.address(), e.socketMatch);
      }
      socketMatchByHost = java.util.Map.copyOf(index);
    }
    endpoints = next;
  }

  /** Envoy's match: every field of the entry's match is in the host's metadata, equal. */
  private int socketMatch(LbEndpoint lb) {
    if (socketMatches.isEmpty()) {
      return -1;
    }
    com.google.protobuf.Struct metadata =
        lb.getMetadata().getFilterMetadataMap().get(SOCKET_MATCH_FILTER);
    for (int i = 0; i < socketMatches.size(); i++) {
      boolean all = true;
      for (var f : socketMatches.get(i).match().getFieldsMap().entrySet()) {
        if (metadata == null || !f.getValue().equals(metadata.getFieldsMap().get(f.getKey()))) {
          all = false;
          break;
        }
      }
      if (all) {
        return i;
      }
    }
    return -1;
  }

  /** The local address upstream connections are made from (upstream_bind_config), or null. */
  public java.net.InetSocketAddress sourceAddress() {
    return sourceAddress;
  }

  public String name() {
    return config.getName();
  }

  public Cluster config() {
    return config;
  }

  public Duration connectTimeout() {
    return connectTimeout;
  }

  public ClusterStats stats() {
    return stats;
  }

  public List<Endpoint> endpoints() {
    return endpoints;
  }

  private java.util.concurrent.ScheduledFuture<?> dnsRefresh;

  /**
   * Starts the cluster's background work: DNS re-resolution at dns_refresh_rate for DNS clusters,
   * and active health checking if configured (hosts fail until their first pass).
   */
  void start(Stats stats, java.util.concurrent.ScheduledExecutorService timer) {
    if (resolvesByDns()) {
      long every = refreshInterval().toNanos();
      dnsRefresh =
          timer.scheduleWithFixedDelay(
              this::refresh, every, every, java.util.concurrent.TimeUnit.NANOSECONDS);
    }
    if (config.getHealthChecksCount() == 1) {
      for (Endpoint e : endpoints) {
        e.activeHealthy = false;
      }
      healthChecker =
          new HealthChecker(
              config.getName(), config.getHealthChecks(0), this::endpoints, stats, timer);
    }
  }

  void stop() {
    if (dnsRefresh != null) {
      dnsRefresh.cancel(false);
    }
    if (healthChecker != null) {
      healthChecker.close();
    }
  }

  public CircuitBreakers circuitBreakers() {
    return circuitBreakers;
  }

  /**
   * The endpoint for the next request, or null when the cluster has none. Hosts ejected by outlier
   * detection are skipped unless fewer than half are left, when Envoy's panic mode balances over
   * all of them.
   */
  public Endpoint pick(java.net.InetSocketAddress originalDst) {
    if (config.getType() == Cluster.DiscoveryType.ORIGINAL_DST) {
      if (originalDst == null) {
        stats.noHealthyHost.inc();
        return null;
      }
      if (originalHosts.size() > 10_000) {
        originalHosts.clear(); // hosts of finished connections; bounded, like Envoy's cleanup
      }
      return originalHosts.computeIfAbsent(originalDst, a -> new Endpoint(a, 1));
    }
    List<Endpoint> current = endpoints;
    if (current.isEmpty()) {
      stats.noHealthyHost.inc();
      return null;
    }
    if (outlierDetector != null || healthChecker != null) {
      long now = System.nanoTime();
      List<Endpoint> healthy = new ArrayList<>(current.size());
      for (Endpoint e : current) {
        if (!e.isEjected(now) && e.activeHealthy) {
          healthy.add(e);
        }
      }
      if (healthy.size() * 2 >= current.size() && !healthy.isEmpty()) {
        return loadBalancer.pick(healthy);
      }
    }
    return loadBalancer.pick(current);
  }

  /** Feeds outlier detection: a response status, or 503 for a connect failure or reset. */
  public void recordOutcome(Endpoint host, int status) {
    if (outlierDetector != null) {
      outlierDetector.record(host, status, endpoints);
    }
  }

  /** Envoy's dns_refresh_rate: five seconds unless set. */
  private Duration refreshInterval() {
    Duration rate =
        ProtoDurations.orDefault(
            config.hasDnsRefreshRate(), config.getDnsRefreshRate(), Duration.ofSeconds(5));
    return rate.compareTo(Duration.ofMillis(10)) < 0 ? Duration.ofMillis(10) : rate;
  }

  boolean resolvesByDns() {
    return config.getType() == Cluster.DiscoveryType.STRICT_DNS
        || config.getType() == Cluster.DiscoveryType.LOGICAL_DNS;
  }

  /** The Unix socket paths among the cluster's endpoints (Envoy's Address.pipe). */
  public List<String> pipes() {
    List<String> out = new ArrayList<>();
    for (LocalityLbEndpoints l : config.getLoadAssignment().getEndpointsList()) {
      for (LbEndpoint lb : l.getLbEndpointsList()) {
        if (lb.getEndpoint().getAddress().hasPipe()) {
          out.add(lb.getEndpoint().getAddress().getPipe().getPath());
        }
      }
    }
    return out;
  }

  /** The name of the ClusterLoadAssignment an EDS cluster takes: service_name, else its own. */
  public String edsName() {
    String service = config.getEdsClusterConfig().getServiceName();
    return service.isEmpty() ? config.getName() : service;
  }

  /**
   * An EDS cluster's endpoints from a ClusterLoadAssignment. Hosts that stay keep their state
   * (outlier ejection, health, active requests); the cluster itself is not replaced.
   */
  void assign(io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment cla) {
    java.util.Map<InetSocketAddress, Endpoint> current = new java.util.HashMap<>();
    for (Endpoint e : endpoints) {
      current.put(e.address(), e);
    }
    List<Endpoint> next = new ArrayList<>();
    for (Endpoint e : resolve(cla)) {
      Endpoint kept = current.get(e.address());
      next.add(
          kept != null && kept.weight() == e.weight() && kept.socketMatch == e.socketMatch
              ? kept
              : e);
    }
    if (healthChecker != null) {
      for (Endpoint e : next) {
        if (!current.containsKey(e.address())) {
          e.activeHealthy = false; // a new host fails until its first health check passes
        }
      }
    }
    setEndpoints(List.copyOf(next));
  }

  /** Re-resolves DNS endpoints; keeps the last good set when resolution fails. */
  void refresh() {
    List<Endpoint> fresh = resolve(config.getLoadAssignment());
    if (!fresh.isEmpty() || !resolvesByDns()) {
      setEndpoints(fresh);
    }
  }

  private List<Endpoint> resolve(
      io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment assignment) {
    List<Endpoint> out = new ArrayList<>();
    for (LocalityLbEndpoints locality : assignment.getEndpointsList()) {
      for (LbEndpoint lb : locality.getLbEndpointsList()) {
        if (lb.getHealthStatus() == HealthStatus.UNHEALTHY
            || lb.getHealthStatus() == HealthStatus.DRAINING) {
          continue;
        }
        if (lb.getEndpoint().getAddress().hasPipe()) {
          continue; // a Unix socket: reached only by the xDS client (see UpstreamCluster.pipes)
        }
        SocketAddress sa = lb.getEndpoint().getAddress().getSocketAddress();
        int weight = lb.hasLoadBalancingWeight() ? lb.getLoadBalancingWeight().getValue() : 1;
        int match = socketMatch(lb);
        int first = out.size();
        switch (config.getType()) {
          case STRICT_DNS -> {
            for (InetAddress a : lookup(sa.getAddress())) {
              out.add(new Endpoint(new InetSocketAddress(a, sa.getPortValue()), weight));
            }
          }
          case LOGICAL_DNS -> {
            List<InetAddress> all = lookup(sa.getAddress());
            if (!all.isEmpty()) {
              out.add(new Endpoint(new InetSocketAddress(all.get(0), sa.getPortValue()), weight));
            }
          }
          default ->
              out.add(
                  new Endpoint(
                          new InetSocketAddress(literal(sa.getAddress()), sa.getPortValue()),
                          weight)
                      .withHostname(lb.getEndpoint().getHostname()));
        }
        for (int i = first; i < out.size(); i++) {
          out.get(i).socketMatch = match;
        }
      }
    }
    return List.copyOf(out);
  }

  /** Resolves a DNS endpoint, keeping the families dns_lookup_family asks for. */
  private List<InetAddress> lookup(String host) {
    try {
      List<InetAddress> all = List.of(InetAddress.getAllByName(host));
      return switch (config.getDnsLookupFamily()) {
        case V4_ONLY -> all.stream().filter(a -> a instanceof java.net.Inet4Address).toList();
        case V6_ONLY -> all.stream().filter(a -> a instanceof java.net.Inet6Address).toList();
        case V4_PREFERRED -> preferred(all, java.net.Inet4Address.class);
        case AUTO -> preferred(all, java.net.Inet6Address.class);
        default -> all;
      };
    } catch (UnknownHostException e) {
      LOG.warning("cluster " + config.getName() + ": cannot resolve " + host);
      return List.of();
    }
  }

  /** Envoy's AUTO and V4_PREFERRED: the preferred family if it resolved, else the other. */
  private static List<InetAddress> preferred(List<InetAddress> all, Class<?> family) {
    List<InetAddress> first = all.stream().filter(family::isInstance).toList();
    return first.isEmpty() ? all : first;
  }

  private static InetAddress literal(String ip) {
    try {
      // A STATIC endpoint is an IP literal; getByName does no lookup for a literal.
      return InetAddress.getByName(ip);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("'" + ip + "' is not an IP address", e);
    }
  }
}
