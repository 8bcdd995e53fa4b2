package dev.mesh.pilot.xds;

import com.github.xds.type.v3.TypedStruct;
import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.UInt32Value;
import dev.mesh.api.ClusterName;
import dev.mesh.api.EnvoyNames;
import dev.mesh.api.MeshPorts;
import dev.mesh.pilot.security.authn.InboundChainOptions;
import dev.mesh.pilot.security.authn.InboundTls;
import dev.mesh.pilot.security.authn.MtlsMode;
import io.envoyproxy.envoy.config.core.v3.TrafficDirection;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilter;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilterChainMatchPredicate;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;

/**
 * Listeners as Istio lays them out for a sidecar: {@code virtualOutbound} on 15001 hands captured
 * connections to the listener of their original destination ({@code 0.0.0.0_<port>} for HTTP with
 * RDS routes, {@code <clusterIP>_<port>} for TCP), else passes them through or drops them by the
 * outbound traffic policy; {@code virtualInbound} on 15006 picks a chain by the original port and
 * hands the request to the app.
 */
final class ListenerGenerator {
  private ListenerGenerator() {}

  private static final String METADATA_EXCHANGE =
      "type.googleapis.com/io.istio.http.peer_metadata.Config";
  private static final String ISTIO_STATS = "type.googleapis.com/stats.PluginConfig";

  static Listener virtualOutbound(boolean allowAny) {
    String cluster = allowAny ? EnvoyNames.PASSTHROUGH_CLUSTER : EnvoyNames.BLACKHOLE_CLUSTER;
    return Listener.newBuilder()
        .setName(EnvoyNames.VIRTUAL_OUTBOUND_LISTENER)
        .setAddress(ClusterGenerator.address("0.0.0.0", MeshPorts.OUTBOUND_CAPTURE))
        .setUseOriginalDst(BoolValue.of(true))
        .setTrafficDirection(TrafficDirection.OUTBOUND)
        .addListenerFilters(originalDst())
        .addFilterChains(
            FilterChain.newBuilder().setName(cluster).addFilters(tcpProxy(cluster, cluster)))
        .build();
  }

  /** {@code 0.0.0.0_<port>}: HTTP to any service on the port, routes by RDS. */
  static Listener outboundHttp(int port) {
    HttpConnectionManager hcm =
        httpManager("outbound_0.0.0.0_" + port)
            .setRds(
                Rds.newBuilder()
                    .setConfigSource(ClusterGenerator.ADS)
                    .setRouteConfigName(EnvoyNames.routeConfig(port)))
            .build();
    return Listener.newBuilder()
        .setName(EnvoyNames.wildcardListener(port))
        .setAddress(ClusterGenerator.address("0.0.0.0", port))
        .setBindToPort(BoolValue.of(false))
        .setTrafficDirection(TrafficDirection.OUTBOUND)
        .addFilterChains(
            FilterChain.newBuilder()
                .addFilters(filter("envoy.filters.network.http_connection_manager", hcm)))
        .build();
  }

  /** {@code <clusterIP>_<port>}: a TCP service, to its outbound cluster. */
  static Listener outboundTcp(String address, int port, String cluster) {
    return Listener.newBuilder()
        .setName(EnvoyNames.listener(address, port))
        .setAddress(ClusterGenerator.address(address, port))
        .setBindToPort(BoolValue.of(false))
        .setTrafficDirection(TrafficDirection.OUTBOUND)
        .addFilterChains(FilterChain.newBuilder().addFilters(tcpProxy(cluster, cluster)))
        .build();
  }

  /**
   * {@code <clusterIP>_<port>} for a service port that says no protocol: http_inspector tells
   * HTTP/1.x and h2c (through the service's own routes) from anything else (TCP to its cluster).
   */
  static Listener outboundSniffed(String address, int port, String cluster, String routeName) {
    HttpConnectionManager hcm =
        httpManager("outbound_" + address + "_" + port)
            .setRds(
                Rds.newBuilder()
                    .setConfigSource(ClusterGenerator.ADS)
                    .setRouteConfigName(routeName))
            .build();
    return sniffing(Listener.newBuilder())
        .setName(EnvoyNames.listener(address, port))
        .setAddress(ClusterGenerator.address(address, port))
        .setBindToPort(BoolValue.of(false))
        .setTrafficDirection(TrafficDirection.OUTBOUND)
        .addFilterChains(
            FilterChain.newBuilder()
                .setName(cluster + "-http")
                .setFilterChainMatch(FilterChainMatch.newBuilder().addAllApplicationProtocols(HTTP))
                .addFilters(filter("envoy.filters.network.http_connection_manager", hcm)))
        .addFilterChains(
            FilterChain.newBuilder().setName(cluster).addFilters(tcpProxy(cluster, cluster)))
        .build();
  }

  /** What http_inspector finds for HTTP, as Istio's sniffed chains match it. */
  private static final java.util.List<String> HTTP =
      java.util.List.of("http/1.0", "http/1.1", "h2c");

  /**
   * http_inspector, with Istio's inbound protocol detection timeout: a client that sends nothing
   * within it (a server-first protocol) goes on as TCP.
   */
  private static Listener.Builder sniffing(Listener.Builder l) {
    return sniffing(l, java.util.List.of());
  }

  /** The same, kept off the given ports (whose protocol is known), as Istio's filter_disabled. */
  private static Listener.Builder sniffing(Listener.Builder l, java.util.List<Integer> knownPorts) {
    ListenerFilter.Builder inspector =
        ListenerFilter.newBuilder()
            .setName("envoy.filters.listener.http_inspector")
            .setTypedConfig(
                Any.pack(
                    io.envoyproxy.envoy.extensions.filters.listener.http_inspector.v3.HttpInspector
                        .getDefaultInstance()));
    if (!knownPorts.isEmpty()) {
      var any = ListenerFilterChainMatchPredicate.MatchSet.newBuilder();
      for (int port : knownPorts) {
        any.addRules(
            ListenerFilterChainMatchPredicate.newBuilder()
                .setDestinationPortRange(
                    io.envoyproxy.envoy.type.v3.Int32Range.newBuilder()
                        .setStart(port)
                        .setEnd(port + 1)));
      }
      inspector.setFilterDisabled(ListenerFilterChainMatchPredicate.newBuilder().setOrMatch(any));
    }
    return l.addListenerFilters(inspector)
        .setListenerFiltersTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1))
        .setContinueOnListenerFiltersTimeout(true);
  }

  /**
   * A port of the proxy's own workload: its protocol, how it takes connections (mTLS mode), and the
   * RBAC filters its HTTP and TCP chains run (none when no AuthorizationPolicy applies).
   */
  record InboundPort(
      int port,
      dev.mesh.pilot.model.Protocol protocol,
      MtlsMode mode,
      java.util.List<HttpFilter> httpRbac,
      java.util.List<Filter> tcpRbac) {
    InboundPort(int port, dev.mesh.pilot.model.Protocol protocol) {
      this(port, protocol, MtlsMode.DISABLE, java.util.List.of(), java.util.List.of());
    }
  }

  /**
   * {@code virtualInbound}: per own port, the chains its mTLS mode calls for (Istio's layout, see
   * {@link InboundChainOptions}); then the passthrough chains for other ports, in the workload's
   * own mode, which carry its TCP RBAC filters too.
   */
  static Listener virtualInbound(
      Iterable<InboundPort> ports,
      MtlsMode passthroughMode,
      java.util.List<Filter> passthroughRbac,
      boolean transparent) {
    Listener.Builder l =
        Listener.newBuilder()
            .setName(EnvoyNames.VIRTUAL_INBOUND_LISTENER)
            .setAddress(ClusterGenerator.address("0.0.0.0", MeshPorts.INBOUND_CAPTURE))
            .setTrafficDirection(TrafficDirection.INBOUND)
            .addListenerFilters(originalDst());
    if (transparent) {
      l.setTransparent(BoolValue.of(true));
    }
    boolean sniffs = false;
    boolean tls = passthroughMode != MtlsMode.DISABLE;
    java.util.List<Integer> known = new java.util.ArrayList<>();
    for (InboundPort p : ports) {
      String cluster = ClusterName.inbound(p.port()).toString();
      InboundChainOptions.PortKind kind;
      if (p.protocol() == dev.mesh.pilot.model.Protocol.AUTO) {
        sniffs = true;
        kind = InboundChainOptions.PortKind.AUTO;
      } else {
        known.add(p.port());
        kind =
            p.protocol().isHttp()
                ? InboundChainOptions.PortKind.HTTP
                : InboundChainOptions.PortKind.TCP;
      }
      tls |= p.mode() != MtlsMode.DISABLE;
      for (var option : InboundChainOptions.of(p.mode(), kind)) {
        FilterChain.Builder chain =
            FilterChain.newBuilder()
                .setName(cluster + option.suffix())
                .setFilterChainMatch(match(p.port(), option));
        if (option.tls()) {
          chain.setTransportSocket(InboundTls.socket(option.http()));
        }
        if (option.http()) {
          inboundHttp(chain, p.port(), cluster, p.httpRbac());
        } else {
          chain.addAllFilters(p.tcpRbac()).addFilters(tcpProxy(cluster, cluster));
        }
        l.addFilterChains(chain);
      }
    }
    if (tls) {
      // Before http_inspector, as Istio orders them: TLS is recognised first.
      l.addListenerFilters(
          ListenerFilter.newBuilder()
              .setName("envoy.filters.listener.tls_inspector")
              .setTypedConfig(
                  Any.pack(
                      io.envoyproxy.envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector
                          .getDefaultInstance())));
    }
    if (sniffs) {
      sniffing(l, known);
    }
    String passthrough = EnvoyNames.INBOUND_PASSTHROUGH_CLUSTER;
    for (var option : InboundChainOptions.of(passthroughMode, InboundChainOptions.PortKind.TCP)) {
      FilterChain.Builder chain = FilterChain.newBuilder().setName(passthrough + option.suffix());
      if (passthroughMode != MtlsMode.DISABLE) {
        chain.setFilterChainMatch(match(0, option));
      }
      if (option.tls()) {
        chain.setTransportSocket(InboundTls.socket(false));
      }
      l.addFilterChains(
          chain.addAllFilters(passthroughRbac).addFilters(tcpProxy(passthrough, passthrough)));
    }
    return l.build();
  }

  /** A chain's match: the port (0 for any), transport protocol and ALPN of its option. */
  private static FilterChainMatch match(int port, InboundChainOptions.Option option) {
    FilterChainMatch.Builder m = FilterChainMatch.newBuilder();
    if (port != 0) {
      m.setDestinationPort(UInt32Value.of(port));
    }
    m.setTransportProtocol(option.transportProtocol());
    return m.addAllApplicationProtocols(option.alpns()).build();
  }

  /** An inbound HTTP chain: every request to the app's port, through Istio's filters. */
  private static FilterChain.Builder inboundHttp(
      FilterChain.Builder chain, int port, String cluster, java.util.List<HttpFilter> rbac) {
    RouteConfiguration routes =
        RouteConfiguration.newBuilder()
            .setName(cluster)
            .setValidateClusters(BoolValue.of(false))
            .addVirtualHosts(
                VirtualHost.newBuilder()
                    .setName("inbound|http|" + port)
                    .addDomains("*")
                    .addRoutes(
                        Route.newBuilder()
                            .setName("default")
                            .setMatch(RouteMatch.newBuilder().setPrefix("/"))
                            .setRoute(
                                RouteAction.newBuilder()
                                    .setCluster(cluster)
                                    .setTimeout(
                                        com.google.protobuf.Duration.getDefaultInstance()))))
            .build();
    return chain.addFilters(
        filter(
            "envoy.filters.network.http_connection_manager",
            httpManager("inbound_0.0.0.0_" + port, rbac).setRouteConfig(routes).build()));
  }

  private static HttpConnectionManager.Builder httpManager(String statPrefix) {
    return httpManager(statPrefix, java.util.List.of());
  }

  /**
   * Istio's HTTP filters, with the inbound RBAC filters where Istio puts them: after the peer's
   * metadata is known, before anything acts on the request.
   */
  private static HttpConnectionManager.Builder httpManager(
      String statPrefix, java.util.List<HttpFilter> rbac) {
    return HttpConnectionManager.newBuilder()
        .setStatPrefix(statPrefix)
        .setCodecType(HttpConnectionManager.CodecType.AUTO)
        .addHttpFilters(typedStruct("istio.metadata_exchange", METADATA_EXCHANGE))
        .addAllHttpFilters(rbac)
        .addHttpFilters(
            HttpFilter.newBuilder()
                .setName(RouteGenerator.FAULT_FILTER)
                .setTypedConfig(Any.pack(HTTPFault.getDefaultInstance())))
        .addHttpFilters(typedStruct("istio.stats", ISTIO_STATS))
        .addHttpFilters(
            HttpFilter.newBuilder()
                .setName("envoy.filters.http.router")
                .setTypedConfig(Any.pack(Router.getDefaultInstance())));
  }

  private static HttpFilter typedStruct(String name, String typeUrl) {
    return HttpFilter.newBuilder()
        .setName(name)
        .setTypedConfig(Any.pack(TypedStruct.newBuilder().setTypeUrl(typeUrl).build()))
        .build();
  }

  private static Filter tcpProxy(String statPrefix, String cluster) {
    return filter(
        "envoy.filters.network.tcp_proxy",
        TcpProxy.newBuilder().setStatPrefix(statPrefix).setCluster(cluster).build());
  }

  private static Filter filter(String name, com.google.protobuf.Message config) {
    return Filter.newBuilder().setName(name).setTypedConfig(Any.pack(config)).build();
  }

  private static ListenerFilter originalDst() {
    return ListenerFilter.newBuilder()
        .setName("envoy.filters.listener.original_dst")
        .setTypedConfig(Any.pack(OriginalDst.getDefaultInstance()))
        .build();
  }
}
