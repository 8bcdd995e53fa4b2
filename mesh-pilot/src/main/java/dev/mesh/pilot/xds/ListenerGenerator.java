package dev.mesh.pilot.xds;

import com.github.xds.type.v3.TypedStruct;
import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import com.google.protobuf.UInt32Value;
import dev.mesh.api.ClusterName;
import dev.mesh.api.EnvoyNames;
import dev.mesh.api.MeshPorts;
import io.envoyproxy.envoy.config.core.v3.TrafficDirection;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilter;
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

  /** A port of the proxy's own workload, and whether it speaks HTTP. */
  record InboundPort(int port, boolean http) {}

  static Listener virtualInbound(Iterable<InboundPort> ports, boolean transparent) {
    Listener.Builder l =
        Listener.newBuilder()
            .setName(EnvoyNames.VIRTUAL_INBOUND_LISTENER)
            .setAddress(ClusterGenerator.address("0.0.0.0", MeshPorts.INBOUND_CAPTURE))
            .setTrafficDirection(TrafficDirection.INBOUND)
            .addListenerFilters(originalDst());
    if (transparent) {
      l.setTransparent(BoolValue.of(true));
    }
    for (InboundPort p : ports) {
      String cluster = ClusterName.inbound(p.port()).toString();
      FilterChain.Builder chain =
          FilterChain.newBuilder()
              .setName(cluster)
              .setFilterChainMatch(
                  FilterChainMatch.newBuilder().setDestinationPort(UInt32Value.of(p.port())));
      if (p.http()) {
        RouteConfiguration routes =
            RouteConfiguration.newBuilder()
                .setName(cluster)
                .setValidateClusters(BoolValue.of(false))
                .addVirtualHosts(
                    VirtualHost.newBuilder()
                        .setName("inbound|http|" + p.port())
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
        chain.addFilters(
            filter(
                "envoy.filters.network.http_connection_manager",
                httpManager("inbound_0.0.0.0_" + p.port()).setRouteConfig(routes).build()));
      } else {
        chain.addFilters(tcpProxy(cluster, cluster));
      }
      l.addFilterChains(chain);
    }
    l.addFilterChains(
        FilterChain.newBuilder()
            .setName(EnvoyNames.INBOUND_PASSTHROUGH_CLUSTER)
            .addFilters(
                tcpProxy(
                    EnvoyNames.INBOUND_PASSTHROUGH_CLUSTER,
                    EnvoyNames.INBOUND_PASSTHROUGH_CLUSTER)));
    return l.build();
  }

  private static HttpConnectionManager.Builder httpManager(String statPrefix) {
    return HttpConnectionManager.newBuilder()
        .setStatPrefix(statPrefix)
        .setCodecType(HttpConnectionManager.CodecType.AUTO)
        .addHttpFilters(typedStruct("istio.metadata_exchange", METADATA_EXCHANGE))
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
