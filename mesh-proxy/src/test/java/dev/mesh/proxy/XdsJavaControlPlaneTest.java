package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.mesh.proxy.config.BootstrapLoader;
import dev.mesh.proxy.config.EnvoyTypes;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * mesh-proxy configured over ADS by a management server nobody here wrote: java-control-plane's own
 * V3DiscoveryServer with its SimpleCache. Clusters come by CDS with endpoints by EDS, listeners by
 * LDS with routes by RDS; updates are followed, a config the proxy cannot honour is NACKed with the
 * previous one serving, and a server restart leaves traffic flowing and is resynced.
 */
class XdsJavaControlPlaneTest {
  static TestUpstream a;
  static TestUpstream b;
  // Proxies are grouped by node id: "mesh" for the main one, "uds" for the one on a Unix socket,
  // "tls" for the one over TLS, "delta" for the delta client.
  static SimpleCache<String> cache =
      new SimpleCache<>(
          node -> {
            String id = node.getId();
            for (String group : List.of("uds", "tls", "delta")) {
              if (id.startsWith(group)) {
                return group;
              }
            }
            return "mesh";
          });
  static final LinkedBlockingQueue<DiscoveryRequest> nacks = new LinkedBlockingQueue<>();
  static final AtomicInteger version = new AtomicInteger();
  static Server xds;
  static int xdsPort;
  static int listenerPort;
  static ProxyFixture proxy;

  static final DiscoveryServerCallbacks RECORD_NACKS =
      new DiscoveryServerCallbacks() {
        @Override
        public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
          if (request.hasErrorDetail()) {
            nacks.add(request);
          }
        }

        @Override
        public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {}
      };

  @BeforeAll
  static void start() throws Exception {
    a = TestUpstream.echo("a");
    b = TestUpstream.echo("b");
    try (ServerSocket s = new ServerSocket(0)) {
      listenerPort = s.getLocalPort();
    }
    xds = startXds(0);
    xdsPort = xds.getPort();
    publish(a.port(), "");
    proxy =
        new ProxyFixture(
            """
            node: {id: "sidecar~127.0.0.1~test.default~default.svc.cluster.local", cluster: test}
            dynamic_resources:
              ads_config:
                api_type: GRPC
                transport_api_version: V3
                grpc_services:
                - envoy_grpc: {cluster_name: xds-grpc}
              cds_config: {ads: {}, resource_api_version: V3}
              lds_config: {ads: {}, resource_api_version: V3}
            static_resources:
              clusters:
              - name: xds-grpc
                type: STATIC
                connect_timeout: 1s
                typed_extension_protocol_options:
                  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                    explicit_http_config: {http2_protocol_options: {}}
                load_assignment:
                  cluster_name: xds-grpc
                  endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
            admin:
              address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            """
                .formatted(xdsPort));
  }

  /**
   * A bootstrap with nothing but the xDS cluster (its endpoint address given as YAML) and ADS of
   * the given api_type; lds_config may carry more options.
   */
  static String adsBootstrap(String nodeId, String apiType, String ldsOptions, String address) {
    return """
        node: {id: "%s", cluster: test}
        dynamic_resources:
          ads_config:
            api_type: %s
            transport_api_version: V3
            grpc_services:
            - envoy_grpc: {cluster_name: xds-grpc}
          cds_config: {ads: {}, resource_api_version: V3}
          lds_config: {ads: {}, resource_api_version: V3%s}
        static_resources:
          clusters:
          - name: xds-grpc
            type: STATIC
            connect_timeout: 1s
            http2_protocol_options: {}
            load_assignment:
              cluster_name: xds-grpc
              endpoints: [{lb_endpoints: [{endpoint: {address: %s}}]}]
        admin:
          address: {socket_address: {address: 127.0.0.1, port_value: 0}}
        """
        .formatted(nodeId, apiType, ldsOptions.isEmpty() ? "" : ", " + ldsOptions, address);
  }

  @AfterAll
  static void stop() throws Exception {
    proxy.close();
    xds.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    a.close();
    b.close();
  }

  static Server startXds(int port) throws Exception {
    V3DiscoveryServer server = new V3DiscoveryServer(RECORD_NACKS, cache);
    return Grpc.newServerBuilderForPort(port, InsecureServerCredentials.create())
        .addService(server.getAggregatedDiscoveryServiceImpl())
        .build()
        .start();
  }

  /**
   * A full snapshot: cluster "svc" by EDS with one endpoint, listener "http" whose routes come by
   * RDS, and routes sending "/" to svc (plus whatever extra route YAML says).
   */
  static void publish(int endpointPort, String clusterExtra) {
    publish("mesh", listenerPort, endpointPort, clusterExtra);
  }

  static void publish(String group, int listenerPort, int endpointPort, String clusterExtra) {
    Cluster cluster =
        parse(
            """
            name: svc
            type: EDS
            connect_timeout: 1s
            eds_cluster_config: {eds_config: {ads: {}, resource_api_version: V3}}
            %s
            """
                .formatted(clusterExtra),
            Cluster.newBuilder());
    ClusterLoadAssignment cla =
        parse(
            """
            cluster_name: svc
            endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
            """
                .formatted(endpointPort),
            ClusterLoadAssignment.newBuilder());
    Listener listener =
        parse(
            """
            name: http
            address: {socket_address: {address: 127.0.0.1, port_value: %d}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: http
                  rds: {route_config_name: routes, config_source: {ads: {}, resource_api_version: V3}}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
            """
                .formatted(listenerPort),
            Listener.newBuilder());
    RouteConfiguration routes =
        parse(
            """
            name: routes
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/teapot"}
                direct_response: {status: 418}
              - match: {prefix: "/"}
                route: {cluster: svc}
            """,
            RouteConfiguration.newBuilder());
    cache.setSnapshot(
        group,
        Snapshot.create(
            List.of(cluster),
            List.of(cla),
            List.of(listener),
            List.of(routes),
            List.of(),
            "v" + version.incrementAndGet()));
  }

  @SuppressWarnings("unchecked")
  static <T extends Message> T parse(String yaml, Message.Builder builder) {
    try {
      JsonFormat.parser()
          .usingTypeRegistry(EnvoyTypes.REGISTRY)
          .merge(BootstrapLoader.yamlToJson(yaml, "test"), builder);
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
    return (T) builder.build();
  }

  /** Polls until a GET through the dynamic listener answers from the named upstream. */
  static void awaitServedBy(String upstream) throws Exception {
    awaitServedBy(upstream, listenerPort);
  }

  static void awaitServedBy(String upstream, int listenerPort) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    String last = "";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r =
            proxy.http.send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + listenerPort + "/page"))
                    .timeout(java.time.Duration.ofSeconds(5))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        last = r.statusCode() + " " + r.body();
        if (r.statusCode() == 200 && r.body().startsWith(upstream + " GET /page")) {
          return;
        }
      } catch (java.io.IOException notYet) {
        last = notYet.toString();
      }
      Thread.sleep(50); // poll interval
    }
    throw new AssertionError("not served by " + upstream + " within 20 s; last: " + last);
  }

  @Test
  void listenersClustersRoutesAndEndpointsArriveAndFollowUpdates() throws Exception {
    publish(a.port(), "");
    awaitServedBy("a");
    assertThat(proxy.admin("GET", "/ready").body().trim()).isEqualTo("LIVE");
    assertThat(
            RawHttp.exchange(
                listenerPort, "GET /teapot HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
        .startsWith("HTTP/1.1 418");
    // An endpoint change arrives by EDS alone: same cluster, new host.
    publish(b.port(), "");
    awaitServedBy("b");
    assertThat(proxy.stat("cluster_manager.eds.update_success")).isPositive();
    assertThat(proxy.stat("listener_manager.lds.update_success")).isPositive();
    // config_dump shows the dynamic resources in Envoy's shape, with their versions.
    var dump =
        com.google.gson.JsonParser.parseString(proxy.admin("GET", "/config_dump").body())
            .getAsJsonObject()
            .getAsJsonArray("configs");
    String clusters = dump.get(1).toString();
    assertThat(clusters).contains("\"dynamic_active_clusters\"").contains("\"name\":\"svc\"");
    assertThat(clusters).contains("\"static_clusters\"").contains("xds-grpc");
    assertThat(dump.get(1).getAsJsonObject().get("version_info").getAsString()).startsWith("v");
    String listeners = dump.get(2).toString();
    assertThat(listeners).contains("\"dynamic_listeners\"").contains("\"active_state\"");
    assertThat(dump.get(3).toString()).contains("\"dynamic_route_configs\"").contains("/teapot");
    assertThat(dump.get(4).toString())
        .contains("\"dynamic_endpoint_configs\"")
        .contains("\"port_value\":" + b.port());
  }

  @Test
  void aClusterTheProxyCannotHonourIsNackedAndThePreviousOneKeepsServing() throws Exception {
    publish(a.port(), "");
    awaitServedBy("a");
    nacks.clear();
    long rejectedBefore = proxy.stat("cluster_manager.cds.update_rejected");
    publish(b.port(), "lb_policy: MAGLEV");
    DiscoveryRequest nack = nacks.poll(20, TimeUnit.SECONDS);
    assertThat(nack).isNotNull();
    assertThat(nack.getTypeUrl()).endsWith("envoy.config.cluster.v3.Cluster");
    assertThat(nack.getErrorDetail().getMessage()).contains("MAGLEV");
    assertThat(nack.getVersionInfo()).isNotEqualTo("v" + version.get());
    assertThat(proxy.stat("cluster_manager.cds.update_rejected")).isGreaterThan(rejectedBefore);
    // The endpoint part of that snapshot (EDS) is valid and applies; the cluster stays as it was.
    awaitServedBy("b");
    assertThat(proxy.server.clusters().get("svc").config().getLbPolicy())
        .isEqualTo(Cluster.LbPolicy.ROUND_ROBIN);
  }

  @Test
  void trafficFlowsWhileTheServerIsAwayAndTheProxyResyncsWhenItReturns() throws Exception {
    publish(a.port(), "");
    awaitServedBy("a");
    xds.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (proxy.stat("control_plane.connected_state") != 0 && System.nanoTime() < deadline) {
      Thread.sleep(20); // poll interval
    }
    assertThat(proxy.stat("control_plane.connected_state")).isZero();
    awaitServedBy("a"); // the last good config serves while the server is away
    publish(b.port(), "");
    xds = startXds(xdsPort);
    awaitServedBy("b");
    assertThat(proxy.stat("control_plane.connected_state")).isEqualTo(1);
  }

  @Test
  void theManagementServerCanBeReachedOverAUnixSocket(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    String path = dir.resolve("xds.sock").toString();
    var boss = new io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup(1);
    var workers = new io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup(1);
    Server uds =
        io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder.forAddress(
                new io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress(path))
            .channelType(
                io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(boss)
            .workerEventLoopGroup(workers)
            .addService(new V3DiscoveryServer(cache).getAggregatedDiscoveryServiceImpl())
            .build()
            .start();
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    publish("uds", port, a.port(), "");
    try (ProxyFixture viaSocket =
        new ProxyFixture(
            adsBootstrap(
                "uds~127.0.0.1~test.default~default.svc.cluster.local",
                "GRPC",
                "",
                "{pipe: {path: \"" + path + "\"}}"))) {
      awaitServedBy("a", port);
      assertThat(viaSocket.stat("control_plane.connected_state")).isEqualTo(1);
    } finally {
      uds.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      boss.shutdownGracefully();
      workers.shutdownGracefully();
    }
  }

  @Test
  void theManagementServerIsReachedOverTheTlsOfItsCluster(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    // One self-signed certificate for both ends, its own trust anchor: one keytool run, not three.
    TestCerts both =
        TestCerts.create(dir, "xds", "ip:127.0.0.1,uri:spiffe://cluster.local/ns/default/sa/test");
    // The server takes only clients presenting that certificate and speaks h2 by ALPN.
    Server tls =
        Grpc.newServerBuilderForPort(
                0,
                io.grpc.TlsServerCredentials.newBuilder()
                    .keyManager(both.cert.toFile(), both.key.toFile())
                    .trustManager(both.cert.toFile())
                    .clientAuth(io.grpc.TlsServerCredentials.ClientAuth.REQUIRE)
                    .build())
            .addService(new V3DiscoveryServer(cache).getAggregatedDiscoveryServiceImpl())
            .build()
            .start();
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    publish("tls", port, a.port(), "");
    String bootstrap =
        adsBootstrap(
                "tls~127.0.0.1~test.default~default.svc.cluster.local",
                "GRPC",
                "",
                "{socket_address: {address: 127.0.0.1, port_value: " + tls.getPort() + "}}")
            .replace(
                "    http2_protocol_options: {}\n",
                """
                    http2_protocol_options: {}
                    transport_socket:
                      name: envoy.transport_sockets.tls
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                        common_tls_context:
                          alpn_protocols: [h2]
                          tls_certificates:
                          - certificate_chain: {filename: "%s"}
                            private_key: {filename: "%s"}
                          validation_context:
                            trusted_ca: {filename: "%s"}
                            match_typed_subject_alt_names:
                            - {san_type: IP_ADDRESS, matcher: {exact: 127.0.0.1}}
                """
                    .formatted(both.cert, both.key, both.cert));
    assertThat(bootstrap).contains("transport_socket");
    try (ProxyFixture viaTls = new ProxyFixture(bootstrap)) {
      awaitServedBy("a", port);
      assertThat(viaTls.stat("control_plane.connected_state")).isEqualTo(1);
    } finally {
      tls.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void withTheServerAwayTheProxyGoesLiveAtInitialFetchTimeout() throws Exception {
    int nobody;
    try (ServerSocket s = new ServerSocket(0)) {
      nobody = s.getLocalPort(); // closed again: connections to it are refused
    }
    try (ProxyFixture alone =
        new ProxyFixture(
            adsBootstrap(
                "sidecar~127.0.0.1~alone.default~default.svc.cluster.local",
                "GRPC",
                // Long enough that the first look comes before it on a loaded machine.
                "initial_fetch_timeout: 3s",
                "{socket_address: {address: 127.0.0.1, port_value: " + nobody + "}}"))) {
      assertThat(alone.admin("GET", "/ready").statusCode()).isEqualTo(503);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (alone.admin("GET", "/ready").statusCode() != 200 && System.nanoTime() < deadline) {
        Thread.sleep(50); // poll interval
      }
      assertThat(alone.admin("GET", "/ready").body().trim()).isEqualTo("LIVE");
      assertThat(alone.stat("control_plane.connected_state")).isZero();
    }
  }

  @Test
  void aDeltaClientGetsTheSameConfigAndFollowsChanges() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    publish("delta", port, a.port(), "");
    try (ProxyFixture delta =
        new ProxyFixture(
            adsBootstrap(
                "delta~127.0.0.1~test.default~default.svc.cluster.local",
                "DELTA_GRPC",
                "",
                "{socket_address: {address: 127.0.0.1, port_value: " + xdsPort + "}}"))) {
      awaitServedBy("a", port);
      long edsBefore = delta.stat("cluster_manager.eds.update_success");
      long cdsBefore = delta.stat("cluster_manager.cds.update_success");
      publish("delta", port, b.port(), "");
      awaitServedBy("b", port);
      // Only the endpoints changed: EDS moved, CDS did not.
      assertThat(delta.stat("cluster_manager.eds.update_success")).isGreaterThan(edsBefore);
      assertThat(delta.stat("cluster_manager.cds.update_success")).isEqualTo(cdsBefore);
      // Same resources as a state-of-the-world client of the same snapshot would hold.
      assertThat(delta.server.clusters().get("svc").config())
          .isEqualTo(cache.getSnapshot("delta").clusters().resources().get("svc"));
    }
  }
}
