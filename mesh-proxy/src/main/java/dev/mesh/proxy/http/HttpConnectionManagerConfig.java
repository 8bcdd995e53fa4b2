package dev.mesh.proxy.http;

import com.github.xds.type.v3.TypedStruct;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.mesh.proxy.accesslog.AccessLog;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.http.fault.FaultInjection;
import dev.mesh.proxy.istio.IstioStandardMetrics;
import dev.mesh.proxy.istio.PeerMetadataExchange;
import dev.mesh.proxy.istio.Workload;
import dev.mesh.proxy.route.RouteTable;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.http.health_check.v3.HealthCheck;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A compiled http_connection_manager: its routes, options and stats. */
public final class HttpConnectionManagerConfig {
  final HttpConnectionManager config;
  final AccessLog accessLog;
  final HttpStats stats;
  final String serverName;

  /**
   * What the connection manager derives from its route configuration, compiled once: the route
   * table, each route's retry policy, and the fault filters with their per-route overrides.
   * Replaced whole when RDS delivers a new configuration; a request keeps the one it started with.
   */
  public record Routes(
      RouteTable table,
      Map<io.envoyproxy.envoy.config.route.v3.Route, RetryPolicy> retryPolicies,
      List<FaultFilter> faults) {
    RetryPolicy retryPolicy(io.envoyproxy.envoy.config.route.v3.Route route) {
      return retryPolicies.getOrDefault(route, RetryPolicy.NONE);
    }
  }

  // Null while an RDS route configuration has not arrived.
  volatile Routes routes;
  private final String rdsName;
  private final java.util.function.Predicate<String> clusterExists;

  final boolean inbound;

  /** Istio's metadata exchange and standard metrics, when their filters are configured. */
  final PeerMetadataExchange exchange;

  final IstioStandardMetrics istioMetrics;
  final Workload self;

  final dev.mesh.proxy.http.healthcheck.HealthCheckFilter healthCheck;
  private final java.util.function.BooleanSupplier serverFailing;

  /** Whether health checks fail: /healthcheck/fail was posted, or the listener drains. */
  boolean failingHealthChecks() {
    return serverFailing.getAsBoolean() || drain != null;
  }

  /** Set when the listener drains; read on every response. */
  volatile DrainState drain;

  public void startDraining(DrainState state) {
    drain = state;
  }

  /** Upgrade types allowed by upgrade_configs (e.g. "websocket"), lowercase. */
  final java.util.Set<String> upgrades;

  static final String ISTIO_METADATA_EXCHANGE =
      "type.googleapis.com/io.istio.http.peer_metadata.Config";
  static final String ISTIO_STATS = "type.googleapis.com/stats.PluginConfig";

  /** A fault filter of the chain: its name (the per-route config's key) and its own config. */
  record FaultFilter(String name, FaultInjection filterLevel, Map<Any, FaultInjection> perRoute) {
    /** The fault config in force for a route: the route's or host's override, else the filter's. */
    FaultInjection forRoute(RouteTable.Match match) {
      Any override = match.perFilterConfig(name);
      return override == null ? filterLevel : perRoute.get(override);
    }
  }

  /** Stats Envoy keeps per connection manager, under {@code http.<stat_prefix>.}. */
  static final class HttpStats {
    final Stats.Counter rqTotal;
    private final dev.mesh.proxy.stats.StatusClassCounters byClass;
    final Stats.Counter cxTotal;
    final Stats.Gauge cxActive;
    final Stats.Gauge rqActive;
    final Stats.Counter noRoute;
    final Stats.Counter rqTimeout;
    final Stats.Counter streamIdleTimeout;
    final Stats.Counter headersTimeout;
    final Stats.Counter protocolError;
    final Stats.Counter faultAborts;
    final Stats.Counter faultDelays;

    HttpStats(Stats stats, String prefix) {
      Stats.Scope s = Stats.Scope.http(prefix);
      rqTotal = stats.counter(s, "downstream_rq_total");
      byClass = new dev.mesh.proxy.stats.StatusClassCounters(stats, s, "downstream_rq");
      cxTotal = stats.counter(s, "downstream_cx_total");
      cxActive = stats.gauge(s, "downstream_cx_active");
      rqActive = stats.gauge(s, "downstream_rq_active");
      noRoute = stats.counter(s, "no_route");
      rqTimeout = stats.counter(s, "downstream_rq_timeout");
      streamIdleTimeout = stats.counter(s, "downstream_rq_idle_timeout");
      headersTimeout = stats.counter(s, "downstream_rq_header_timeout");
      protocolError = stats.counter(s, "downstream_cx_protocol_error");
      faultAborts = stats.counter(s, "fault.aborts_injected");
      faultDelays = stats.counter(s, "fault.delays_injected");
    }

    void response(int status) {
      byClass.record(status);
    }
  }

  public HttpConnectionManagerConfig(
      HttpConnectionManager config,
      Stats stats,
      Node node,
      boolean inbound,
      java.util.function.Predicate<String> clusterExists,
      java.util.function.BooleanSupplier serverFailing) {
    this.config = config;
    this.serverFailing = serverFailing;
    this.inbound = inbound;
    boolean exchangeOn = false;
    boolean statsOn = false;
    for (HttpFilter f : config.getHttpFiltersList()) {
      String istio = istioFilter(f);
      exchangeOn |= ISTIO_METADATA_EXCHANGE.equals(istio);
      statsOn |= ISTIO_STATS.equals(istio);
    }
    this.self = Workload.of(node.getMetadata());
    this.upgrades =
        config.getUpgradeConfigsList().stream()
            .filter(u -> !u.hasEnabled() || u.getEnabled().getValue())
            .map(u -> u.getUpgradeType().toLowerCase(java.util.Locale.ROOT))
            .collect(java.util.stream.Collectors.toUnmodifiableSet());
    this.exchange = exchangeOn ? new PeerMetadataExchange(node) : null;
    this.istioMetrics = statsOn ? new IstioStandardMetrics(stats.labelled()) : null;
    if (config.hasRds()) {
      var source = config.getRds().getConfigSource();
      if (!source.hasAds()) {
        throw new ConfigRejectedException(
            "http_connection_manager "
                + config.getStatPrefix()
                + ": rds.config_source must be ads (the one xDS stream)");
      }
      if (config.getRds().getRouteConfigName().isEmpty()) {
        throw new ConfigRejectedException(
            "http_connection_manager " + config.getStatPrefix() + ": rds needs route_config_name");
      }
    } else if (!config.hasRouteConfig()) {
      throw new ConfigRejectedException(
          "http_connection_manager " + config.getStatPrefix() + ": needs route_config or rds");
    }
    if (config.getHttpFiltersCount() == 0
        || !config
            .getHttpFilters(config.getHttpFiltersCount() - 1)
            .getTypedConfig()
            .is(Router.class)) {
      throw new ConfigRejectedException(
          "http_connection_manager "
              + config.getStatPrefix()
              + ": the last http filter must be envoy.filters.http.router");
    }
    this.clusterExists = clusterExists;
    this.rdsName = config.hasRds() ? config.getRds().getRouteConfigName() : null;
    faultFilters(
        config, io.envoyproxy.envoy.config.route.v3.RouteConfiguration.getDefaultInstance());
    this.routes = config.hasRouteConfig() ? compile(config.getRouteConfig()) : null;
    this.healthCheck = healthCheckFilter(config);
    this.accessLog = AccessLog.of(config.getAccessLogList());
    this.stats = new HttpStats(stats, config.getStatPrefix());
    this.serverName = config.getServerName().isEmpty() ? "envoy" : config.getServerName();
  }

  /** The route configuration this connection manager takes from RDS, or null if inline. */
  public String rdsName() {
    return rdsName;
  }

  /** Compiles a route configuration for this connection manager; throws if it is invalid. */
  public Routes compile(io.envoyproxy.envoy.config.route.v3.RouteConfiguration rc) {
    validateClusters(rc, clusterExists, rdsName == null);
    RouteTable table;
    try {
      table = new RouteTable(rc);
    } catch (IllegalArgumentException e) {
      throw new ConfigRejectedException(e.getMessage(), e);
    }
    return new Routes(table, retryPolicies(rc), faultFilters(config, rc));
  }

  /** Serves new requests with routes compiled by {@link #compile}. */
  public void use(Routes compiled) {
    routes = compiled;
  }

  /**
   * Envoy checks that routes name known clusters when validate_clusters says so (its default is
   * true for an inline route table, false for one from RDS), and that weighted clusters add up to
   * total_weight when it is set.
   */
  private static void validateClusters(
      io.envoyproxy.envoy.config.route.v3.RouteConfiguration rc,
      java.util.function.Predicate<String> clusterExists,
      boolean inline) {
    boolean validate = rc.hasValidateClusters() ? rc.getValidateClusters().getValue() : inline;
    for (var vh : rc.getVirtualHostsList()) {
      for (var r : vh.getRoutesList()) {
        if (!r.hasRoute()) {
          continue;
        }
        var action = r.getRoute();
        List<String> named = new ArrayList<>();
        if (action.hasWeightedClusters()) {
          long sum = 0;
          for (var c : action.getWeightedClusters().getClustersList()) {
            named.add(c.getName());
            sum += c.getWeight().getValue();
          }
          if (action.getWeightedClusters().hasTotalWeight()
              && sum != action.getWeightedClusters().getTotalWeight().getValue()) {
            throw new ConfigRejectedException(
                "route config "
                    + rc.getName()
                    + ": weighted clusters add up to "
                    + sum
                    + ", not total_weight "
                    + action.getWeightedClusters().getTotalWeight().getValue());
          }
        } else {
          named.add(action.getCluster());
        }
        for (String cluster : named) {
          if (validate && !clusterExists.test(cluster)) {
            throw new ConfigRejectedException(
                "route config "
                    + rc.getName()
                    + ": route "
                    + (r.getName().isEmpty() ? "in virtual host " + vh.getName() : r.getName())
                    + " names unknown cluster '"
                    + cluster
                    + "' (set validate_clusters: false to allow it)");
          }
        }
      }
    }
  }

  private static Map<io.envoyproxy.envoy.config.route.v3.Route, RetryPolicy> retryPolicies(
      io.envoyproxy.envoy.config.route.v3.RouteConfiguration rc) {
    Map<io.envoyproxy.envoy.config.route.v3.Route, RetryPolicy> out = new HashMap<>();
    for (var vh : rc.getVirtualHostsList()) {
      for (var r : vh.getRoutesList()) {
        if (r.hasRoute() && r.getRoute().hasRetryPolicy()) {
          out.put(r, RetryPolicy.of(r));
        }
      }
    }
    return Map.copyOf(out);
  }

  /** Compiles the fault filters and every per-route override of them, so requests only look up. */
  private static List<FaultFilter> faultFilters(
      HttpConnectionManager config, io.envoyproxy.envoy.config.route.v3.RouteConfiguration rc) {
    List<FaultFilter> out = new ArrayList<>();
    List<HttpFilter> filters = config.getHttpFiltersList();
    for (HttpFilter f : filters.subList(0, filters.size() - 1)) {
      if (istioFilter(f) != null || f.getTypedConfig().is(HealthCheck.class)) {
        continue;
      }
      if (!f.getTypedConfig().is(HTTPFault.class)) {
        throw new ConfigRejectedException(
            "http filter "
                + f.getName()
                + ": "
                + f.getTypedConfig().getTypeUrl()
                + " is not supported");
      }
      Map<Any, FaultInjection> perRoute = new HashMap<>();
      for (var vh : rc.getVirtualHostsList()) {
        Any hostLevel = vh.getTypedPerFilterConfigOrDefault(f.getName(), null);
        if (hostLevel != null) {
          perRoute.put(hostLevel, new FaultInjection(unpackFault(hostLevel, f.getName())));
        }
        for (var r : vh.getRoutesList()) {
          Any routeLevel = r.getTypedPerFilterConfigOrDefault(f.getName(), null);
          if (routeLevel != null) {
            perRoute.put(routeLevel, new FaultInjection(unpackFault(routeLevel, f.getName())));
          }
        }
      }
      out.add(
          new FaultFilter(
              f.getName(),
              new FaultInjection(unpackFault(f.getTypedConfig(), f.getName())),
              perRoute));
    }
    return List.copyOf(out);
  }

  /**
   * The Istio filter type a filter carries as a TypedStruct (how Istio's own extensions are named
   * in Envoy's config), or null; refuses TypedStructs of types we do not implement.
   */
  private static String istioFilter(HttpFilter f) {
    if (!f.getTypedConfig().is(TypedStruct.class)) {
      return null;
    }
    try {
      String type = f.getTypedConfig().unpack(TypedStruct.class).getTypeUrl();
      if (type.equals(ISTIO_METADATA_EXCHANGE) || type.equals(ISTIO_STATS)) {
        return type;
      }
      throw new ConfigRejectedException(
          "http filter " + f.getName() + ": " + type + " is not supported");
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigRejectedException("http filter " + f.getName() + ": " + e.getMessage(), e);
    }
  }

  private static dev.mesh.proxy.http.healthcheck.HealthCheckFilter healthCheckFilter(
      HttpConnectionManager config) {
    for (HttpFilter f : config.getHttpFiltersList()) {
      if (f.getTypedConfig().is(HealthCheck.class)) {
        try {
          return new dev.mesh.proxy.http.healthcheck.HealthCheckFilter(
              f.getTypedConfig().unpack(HealthCheck.class));
        } catch (InvalidProtocolBufferException e) {
          throw new ConfigRejectedException(
              "http filter " + f.getName() + ": " + e.getMessage(), e);
        }
      }
    }
    return null;
  }

  private static HTTPFault unpackFault(Any any, String filter) {
    try {
      return any.unpack(HTTPFault.class);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigRejectedException(
          "typed_per_filter_config for "
              + filter
              + ": not an HTTPFault ("
              + any.getTypeUrl()
              + ")");
    }
  }

  int maxHeaderBytes() {
    return config.hasMaxRequestHeadersKb()
        ? config.getMaxRequestHeadersKb().getValue() * 1024
        : 60 * 1024;
  }

  /** Envoy's default idle timeout for downstream connections is one hour. */
  Duration idleTimeout() {
    var options = config.getCommonHttpProtocolOptions();
    return ProtoDurations.orDefault(
        options.hasIdleTimeout(), options.getIdleTimeout(), Duration.ofHours(1));
  }

  /** Envoy's request_headers_timeout: off unless set. */
  Duration requestHeadersTimeout() {
    return ProtoDurations.of(config.getRequestHeadersTimeout());
  }

  /** Envoy's stream_idle_timeout: five minutes unless set; zero turns it off. */
  Duration streamIdleTimeout() {
    return ProtoDurations.orDefault(
        config.hasStreamIdleTimeout(), config.getStreamIdleTimeout(), Duration.ofMinutes(5));
  }

  boolean generateRequestId() {
    return !config.hasGenerateRequestId() || config.getGenerateRequestId().getValue();
  }

  boolean useRemoteAddress() {
    return config.hasUseRemoteAddress() && config.getUseRemoteAddress().getValue();
  }
}
