package dev.mesh.proxy.http.hcm;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import dev.mesh.proxy.accesslog.AccessLog;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.extension.Extensions;
import dev.mesh.proxy.http.filter.FilterManager;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import dev.mesh.proxy.route.RouteTable;
import dev.mesh.proxy.stats.Stats;
import dev.mesh.proxy.stats.StatusClassCounters;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A compiled http_connection_manager: its options, its HTTP filters (each compiled once by its
 * factory) and its routes. The routes are replaced whole when RDS delivers a new configuration; a
 * stream keeps the ones in force when it began.
 */
public final class HcmConfig {
  /** Envoy's default per_connection_buffer_limit_bytes: the most a stream buffers in the proxy. */
  public static final int BUFFER_LIMIT = 1024 * 1024;

  final HttpConnectionManager config;
  final AccessLog accessLog;
  final ConnectionManagerStats stats;
  final String serverName;
  final boolean inbound;
  final Set<String> upgrades;
  private final List<Filter> filters;
  private final Map<String, Filter> filtersByName;
  private final String rdsName;
  private final Predicate<String> clusterExists;
  private final BooleanSupplier serverFailing;
  final HcmContext context;

  /** An http_filters entry: its config name and factory, and its compiled config. */
  private record Filter(String name, HttpFilterFactory factory, HttpFilterConfig config) {}

  /**
   * What a route configuration compiles to for this connection manager: the route table and every
   * typed_per_filter_config in it, compiled by the factory of the filter it is for, so that streams
   * only look them up.
   */
  public record Routes(RouteTable table, Map<Any, Object> perFilterConfigs) {}

  // Null while an RDS route configuration has not arrived.
  volatile Routes routes;
  // Set when the listener drains; read on every response.
  volatile DrainState drain;

  /** Stats Envoy keeps per connection manager, under {@code http.<stat_prefix>.}. */
  static final class ConnectionManagerStats {
    final Stats.Counter rqTotal;
    private final StatusClassCounters byClass;
    final Stats.Counter cxTotal;
    final Stats.Gauge cxActive;
    final Stats.Gauge rqActive;
    final Stats.Counter streamIdleTimeout;
    final Stats.Counter headersTimeout;
    final Stats.Counter protocolError;

    ConnectionManagerStats(Stats stats, String prefix) {
      Stats.Scope s = Stats.Scope.http(prefix);
      rqTotal = stats.counter(s, "downstream_rq_total");
      byClass = new StatusClassCounters(stats, s, "downstream_rq");
      cxTotal = stats.counter(s, "downstream_cx_total");
      cxActive = stats.gauge(s, "downstream_cx_active");
      rqActive = stats.gauge(s, "downstream_rq_active");
      streamIdleTimeout = stats.counter(s, "downstream_rq_idle_timeout");
      headersTimeout = stats.counter(s, "downstream_rq_header_timeout");
      protocolError = stats.counter(s, "downstream_cx_protocol_error");
    }

    void response(int status) {
      byClass.record(status);
    }
  }

  public HcmConfig(HttpConnectionManager config, HcmContext context) {
    this.config = config;
    this.context = context;
    this.inbound = context.inbound();
    this.serverFailing = context.serverFailing();
    this.clusterExists = name -> context.clusters().known(name);
    this.upgrades =
        config.getUpgradeConfigsList().stream()
            .filter(u -> !u.hasEnabled() || u.getEnabled().getValue())
            .map(u -> u.getUpgradeType().toLowerCase(Locale.ROOT))
            .collect(Collectors.toUnmodifiableSet());
    String prefix = config.getStatPrefix();
    if (config.hasRds()) {
      var source = config.getRds().getConfigSource();
      if (!source.hasAds()) {
        throw new ConfigRejectedException(
            "http_connection_manager "
                + prefix
                + ": rds.config_source must be ads (the one xDS stream)");
      }
      if (config.getRds().getRouteConfigName().isEmpty()) {
        throw new ConfigRejectedException(
            "http_connection_manager " + prefix + ": rds needs route_config_name");
      }
    } else if (!config.hasRouteConfig()) {
      throw new ConfigRejectedException(
          "http_connection_manager " + prefix + ": needs route_config or rds");
    }
    HttpFilterContext filterContext =
        new HttpFilterContext(
            prefix,
            inbound,
            context.node(),
            context.stats(),
            context.clusters(),
            this::failingHealthChecks,
            context.upstreamChannelType());
    this.filters = compileFilters(config, filterContext);
    Map<String, Filter> byName = new HashMap<>();
    for (Filter f : filters) {
      byName.putIfAbsent(f.name(), f);
    }
    this.filtersByName = Map.copyOf(byName);
    this.rdsName = config.hasRds() ? config.getRds().getRouteConfigName() : null;
    this.routes = config.hasRouteConfig() ? compile(config.getRouteConfig()) : null;
    this.accessLog = AccessLog.of(config.getAccessLogList());
    this.stats = new ConnectionManagerStats(context.stats(), prefix);
    this.serverName = config.getServerName().isEmpty() ? "envoy" : config.getServerName();
  }

  /**
   * Each filter of http_filters through its factory, found by its typed_config's type (a
   * TypedStruct's type_url for Istio's extensions) or, without typed_config, by its name, as Envoy
   * resolves them. The terminal filter (the router) comes last, and only there.
   */
  private static List<Filter> compileFilters(HttpConnectionManager config, HttpFilterContext ctx) {
    String at = "http_connection_manager " + config.getStatPrefix();
    if (config.getHttpFiltersCount() == 0) {
      throw new ConfigRejectedException(
          at
              + ": the last http filter must be a terminal filter"
              + " such as envoy.filters.http.router");
    }
    List<Filter> out = new ArrayList<>();
    for (int i = 0; i < config.getHttpFiltersCount(); i++) {
      HttpFilter f = config.getHttpFilters(i);
      HttpFilterFactory factory;
      Message typed;
      if (f.hasTypedConfig()) {
        Extensions.Typed<HttpFilterFactory> found =
            Extensions.httpFilter(f.getTypedConfig(), "http filter " + f.getName());
        factory = found.factory();
        typed = found.config();
      } else {
        factory = Extensions.httpFilterNamed(f.getName());
        if (factory == null) {
          throw new ConfigRejectedException(
              "http filter "
                  + f.getName()
                  + ": no typed_config, and no filter is known by that name");
        }
        typed =
            factory.defaultConfig() == null
                ? com.google.protobuf.Struct.getDefaultInstance()
                : factory.defaultConfig();
      }
      boolean last = i == config.getHttpFiltersCount() - 1;
      if (last && !factory.terminal()) {
        throw new ConfigRejectedException(
            at
                + ": the last http filter must be a terminal filter such as"
                + " envoy.filters.http.router, not "
                + f.getName());
      }
      if (!last && factory.terminal()) {
        throw new ConfigRejectedException(
            at + ": the terminal filter " + f.getName() + " must be the last http filter");
      }
      out.add(new Filter(f.getName(), factory, factory.compile(typed, ctx)));
    }
    return List.copyOf(out);
  }

  /** A new stream's filters, in http_filters order. */
  List<FilterManager.Named> newFilterChain() {
    List<FilterManager.Named> chain = new ArrayList<>(filters.size());
    for (Filter f : filters) {
      chain.add(new FilterManager.Named(f.name(), f.config().newFilter()));
    }
    return chain;
  }

  /** The route configuration this connection manager takes from RDS, or null if inline. */
  public String rdsName() {
    return rdsName;
  }

  /** Compiles a route configuration for this connection manager; throws if it is invalid. */
  public Routes compile(RouteConfiguration rc) {
    validateClusters(rc, clusterExists, rdsName == null);
    RouteTable table;
    try {
      table = new RouteTable(rc);
    } catch (IllegalArgumentException e) {
      throw new ConfigRejectedException(e.getMessage(), e);
    }
    Map<Any, Object> perFilter = new HashMap<>();
    for (var vh : rc.getVirtualHostsList()) {
      compilePerFilter(vh.getTypedPerFilterConfigMap(), perFilter, "virtual host " + vh.getName());
      for (var r : vh.getRoutesList()) {
        compilePerFilter(
            r.getTypedPerFilterConfigMap(),
            perFilter,
            "route " + (r.getName().isEmpty() ? "in virtual host " + vh.getName() : r.getName()));
      }
    }
    return new Routes(table, Map.copyOf(perFilter));
  }

  private void compilePerFilter(Map<String, Any> configs, Map<Any, Object> into, String where) {
    for (Map.Entry<String, Any> e : configs.entrySet()) {
      if (into.containsKey(e.getValue())) {
        continue;
      }
      Filter f = filtersByName.get(e.getKey());
      String at = "typed_per_filter_config of " + where + " for " + e.getKey();
      if (f != null) {
        into.put(
            e.getValue(), f.factory().compilePerRoute(unpackFor(f.factory(), e.getValue(), at)));
      } else {
        // For a filter this chain lacks: checked as Envoy checks it (by its type), never used.
        Extensions.Typed<HttpFilterFactory> found = Extensions.httpFilter(e.getValue(), at);
        found.factory().compilePerRoute(found.config());
      }
    }
  }

  private static Message unpackFor(HttpFilterFactory factory, Any any, String at) {
    Extensions.Typed<HttpFilterFactory> found = Extensions.httpFilter(any, at);
    if (found.factory() != factory) {
      throw new ConfigRejectedException(
          at + ": " + any.getTypeUrl() + " is not a config of " + factory.name());
    }
    return found.config();
  }

  /** Serves new requests with routes compiled by {@link #compile}. */
  public void use(Routes compiled) {
    routes = compiled;
  }

  public void startDraining(DrainState state) {
    drain = state;
  }

  /** Whether health checks fail: /healthcheck/fail was posted, or the listener drains. */
  boolean failingHealthChecks() {
    return serverFailing.getAsBoolean() || drain != null;
  }

  /**
   * Envoy checks that routes name known clusters when validate_clusters says so (its default is
   * true for an inline route table, false for one from RDS), and that weighted clusters add up to
   * total_weight when it is set.
   */
  private static void validateClusters(
      RouteConfiguration rc, Predicate<String> clusterExists, boolean inline) {
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
