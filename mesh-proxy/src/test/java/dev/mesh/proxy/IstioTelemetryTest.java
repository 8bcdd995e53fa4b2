package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two sidecars, as Istio has them: productpage's (client, outbound) calls reviews (server, inbound)
 * through reviews' sidecar. Metadata exchange tells each side the other's workload, and both report
 * istio_requests_total with it; neither app sees the exchange headers.
 */
class IstioTelemetryTest {
  TestUpstream reviewsApp;
  ProxyFixture reviewsSidecar;
  ProxyFixture productpageSidecar;

  static String sidecar(
      String workload,
      String app,
      String version,
      String direction,
      String cluster,
      String clusters) {
    return """
        node:
          id: sidecar~10.0.0.1~%1$s-abc.default~default.svc.cluster.local
          metadata:
            NAME: %1$s-abc
            NAMESPACE: default
            WORKLOAD_NAME: %1$s
            CLUSTER_ID: Kubernetes
            LABELS: {app: %2$s, version: %3$s}
        static_resources:
          listeners:
          - name: %4$s
            traffic_direction: %4$s
            address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: %4$s
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes: [{match: {prefix: "/"}, route: {cluster: "%5$s"}}]
                  http_filters:
                  - name: istio.metadata_exchange
                    typed_config:
                      "@type": type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/io.istio.http.peer_metadata.Config
                      value: {}
                  - name: istio.stats
                    typed_config:
                      "@type": type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/stats.PluginConfig
                      value: {}
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          clusters:
        %6$s
        """
        .formatted(workload, app, version, direction, cluster, clusters.indent(2).stripTrailing());
  }

  @BeforeEach
  void start() throws Exception {
    reviewsApp = TestUpstream.echo("reviews-app");
    reviewsSidecar =
        new ProxyFixture(
            sidecar(
                "reviews-v2",
                "reviews",
                "v2",
                "INBOUND",
                "inbound|9080||",
                Bootstraps.cluster("inbound|9080||", reviewsApp.port())));
    productpageSidecar =
        new ProxyFixture(
            sidecar(
                "productpage-v1",
                "productpage",
                "v1",
                "OUTBOUND",
                "outbound|9080||reviews.default.svc.cluster.local",
                Bootstraps.cluster(
                    "outbound|9080||reviews.default.svc.cluster.local",
                    reviewsSidecar.port("INBOUND"))));
  }

  @AfterEach
  void stop() {
    productpageSidecar.close();
    reviewsSidecar.close();
    reviewsApp.close();
  }

  private static long requests(ProxyFixture p, Map<String, String> labels) {
    return p.server.stats().labelled().sum("istio_requests_total", labels);
  }

  @Test
  void bothSidesReportTheRequestWithThePeerWorkload() throws Exception {
    HttpResponse<String> r = productpageSidecar.get("OUTBOUND", "/reviews/1");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body())
        .startsWith("reviews-app GET /reviews/1")
        .doesNotContain("x-envoy-peer-metadata");
    assertThat(r.headers().map())
        .doesNotContainKeys("x-envoy-peer-metadata", "x-envoy-peer-metadata-id");

    Map<String, String> sourceSide =
        Map.of(
            "reporter", "source",
            "source_workload", "productpage-v1",
            "source_app", "productpage",
            "destination_workload", "reviews-v2",
            "destination_version", "v2",
            "destination_service", "reviews.default.svc.cluster.local",
            "destination_service_name", "reviews",
            "response_code", "200");
    Map<String, String> destinationSide =
        Map.of(
            "reporter", "destination",
            "source_workload", "productpage-v1",
            "source_version", "v1",
            "destination_workload", "reviews-v2",
            "destination_canonical_service", "reviews",
            "response_code", "200");
    assertThat(requests(productpageSidecar, sourceSide)).isEqualTo(1);
    assertThat(requests(reviewsSidecar, destinationSide)).isEqualTo(1);
    String prometheus = reviewsSidecar.server.stats().prometheus();
    assertThat(prometheus)
        .contains("# TYPE istio_requests_total counter")
        .contains("reporter=\"destination\",source_workload=\"productpage-v1\"")
        .contains("istio_request_duration_milliseconds_bucket{")
        .contains("# TYPE istio_request_duration_milliseconds histogram");
  }

  @Test
  void withoutThePeersSidecarThePeerIsUnknown() throws Exception {
    // A caller without a sidecar: straight to reviews' inbound listener.
    assertThat(reviewsSidecar.get("INBOUND", "/").statusCode()).isEqualTo(200);
    assertThat(
            requests(
                reviewsSidecar,
                Map.of(
                    "reporter",
                    "destination",
                    "source_workload",
                    "unknown",
                    "destination_workload",
                    "reviews-v2")))
        .isEqualTo(1);
  }

  @Test
  void tcpConnectionsAreCountedWithTheirBytes() throws Exception {
    try (java.net.ServerSocket echo =
            new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
        ProxyFixture sidecar =
            new ProxyFixture(
                """
                node:
                  id: sidecar~10.0.0.1~productpage-v1-abc.default~default.svc.cluster.local
                  metadata: {NAMESPACE: default, WORKLOAD_NAME: productpage-v1, LABELS: {app: productpage}}
                static_resources:
                  listeners:
                  - name: mongo
                    traffic_direction: OUTBOUND
                    address: {socket_address: {address: 127.0.0.1, port_value: 0}}
                    filter_chains:
                    - filters:
                      - name: istio.metadata_exchange
                        typed_config:
                          "@type": type.googleapis.com/xds.type.v3.TypedStruct
                          type_url: type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange
                          value: {protocol: istio-peer-exchange}
                      - name: istio.stats
                        typed_config:
                          "@type": type.googleapis.com/xds.type.v3.TypedStruct
                          type_url: type.googleapis.com/stats.PluginConfig
                          value: {}
                      - name: envoy.filters.network.tcp_proxy
                        typed_config:
                          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                          stat_prefix: "outbound|27017||mongo.db.svc.cluster.local"
                          cluster: "outbound|27017||mongo.db.svc.cluster.local"
                  clusters:
                  - name: "outbound|27017||mongo.db.svc.cluster.local"
                    load_assignment:
                      cluster_name: mongo
                      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
                """
                    .formatted(echo.getLocalPort()))) {
      Thread server =
          new Thread(
              () -> {
                try (java.net.Socket s = echo.accept()) {
                  s.getInputStream().transferTo(s.getOutputStream());
                } catch (java.io.IOException e) {
                  // the test fails on what it reads
                }
              });
      server.start();
      try (java.net.Socket s = new java.net.Socket("127.0.0.1", sidecar.port("mongo"))) {
        s.getOutputStream().write("hello mongo".getBytes());
        s.shutdownOutput();
        assertThat(new String(s.getInputStream().readAllBytes())).isEqualTo("hello mongo");
      }
      Map<String, String> labels =
          Map.of(
              "reporter", "source",
              "source_workload", "productpage-v1",
              "destination_service", "mongo.db.svc.cluster.local",
              "destination_service_namespace", "db",
              "request_protocol", "tcp");
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
      var metrics = sidecar.server.stats().labelled();
      while (metrics.sum("istio_tcp_connections_closed_total", labels) == 0
          && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(metrics.sum("istio_tcp_connections_opened_total", labels)).isEqualTo(1);
      assertThat(metrics.sum("istio_tcp_connections_closed_total", labels)).isEqualTo(1);
      assertThat(metrics.sum("istio_tcp_received_bytes_total", labels)).isEqualTo(11);
      assertThat(metrics.sum("istio_tcp_sent_bytes_total", labels)).isEqualTo(11);
    }
  }
}
