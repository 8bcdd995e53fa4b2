package dev.mesh.pilot.xds;

import com.google.protobuf.Any;
import dev.mesh.api.ClusterName;
import dev.mesh.pilot.model.MeshService;
import dev.mesh.pilot.model.ServiceIndex;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.ApiListener;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.Rds;
import java.util.ArrayList;
import java.util.List;

/**
 * Config for proxyless gRPC, as Istio's gRPC generator makes it: a client asking for {@code
 * xds:///reviews.default.svc.cluster.local:9080} gets the API listener of that name (an HTTP
 * connection manager with RDS), the route configuration of the same name (the VirtualService's
 * routes), and the EDS clusters and endpoints the routes name, with the same names as a sidecar's.
 */
final class GrpcGenerator {
  private GrpcGenerator() {}

  static ProxyResources generate(ServiceIndex index, List<MeshService> visible, Problems problems) {
    List<Cluster> clusters = new ArrayList<>();
    List<ClusterLoadAssignment> endpoints = new ArrayList<>();
    // Proxyless clients get no TLS: gRPC's xDS security takes certificate providers, not SDS.
    ClusterGenerator.addOutbound(
        index,
        visible,
        clusters,
        endpoints,
        new dev.mesh.pilot.security.SecuritySettings("cluster.local", "mesh-system", false, false),
        problems);
    List<Listener> listeners = new ArrayList<>();
    List<RouteConfiguration> routes = new ArrayList<>();
    for (MeshService s : visible) {
      for (MeshService.ServicePort p : s.ports()) {
        String name = s.hostname() + ":" + p.port();
        listeners.add(apiListener(name));
        routes.add(routeConfig(index, s, p.port(), name, problems));
      }
    }
    return ProxyResources.of(clusters, endpoints, listeners, routes);
  }

  private static Listener apiListener(String name) {
    HttpConnectionManager hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix(name)
            .setRds(Rds.newBuilder().setConfigSource(ClusterGenerator.ADS).setRouteConfigName(name))
            .addHttpFilters(
                HttpFilter.newBuilder()
                    .setName(RouteGenerator.FAULT_FILTER)
                    .setTypedConfig(Any.pack(HTTPFault.getDefaultInstance())))
            .addHttpFilters(
                HttpFilter.newBuilder()
                    .setName("envoy.filters.http.router")
                    .setTypedConfig(Any.pack(Router.getDefaultInstance())))
            .build();
    return Listener.newBuilder()
        .setName(name)
        .setApiListener(ApiListener.newBuilder().setApiListener(Any.pack(hcm)))
        .build();
  }

  private static RouteConfiguration routeConfig(
      ServiceIndex index, MeshService s, int port, String name, Problems problems) {
    List<Route> routes =
        new ArrayList<>(RouteGenerator.virtualServiceRoutes(index, s, port, problems));
    if (routes.isEmpty()) {
      routes.add(
          Route.newBuilder()
              .setName("default")
              .setMatch(RouteMatch.newBuilder().setPrefix(""))
              .setRoute(
                  RouteAction.newBuilder()
                      .setCluster(ClusterName.outbound(port, s.hostname()).toString()))
              .build());
    }
    return RouteConfiguration.newBuilder()
        .setName(name)
        .addVirtualHosts(
            VirtualHost.newBuilder()
                .setName(name)
                .addAllDomains(RouteGenerator.namesWithPort(s, port, s.namespace()))
                .addAllRoutes(routes))
        .build();
  }
}
