package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Envoy's front-proxy example, written the way Envoy's docs write it: one listener routing by path
 * prefix to two services.
 */
class FrontProxyTest {
  TestUpstream service1;
  TestUpstream service2;
  ProxyFixture proxy;

  @BeforeEach
  void start() throws Exception {
    service1 = TestUpstream.echo("service1");
    service2 = TestUpstream.echo("service2");
    proxy =
        new ProxyFixture(
            """
            static_resources:
              listeners:
              - name: listener_0
                address:
                  socket_address:
                    address: 127.0.0.1
                    port_value: 0
                filter_chains:
                - filters:
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      codec_type: AUTO
                      stat_prefix: ingress_http
                      route_config:
                        name: local_route
                        virtual_hosts:
                        - name: backend
                          domains:
                          - "*"
                          routes:
                          - match:
                              prefix: "/service/1"
                            route:
                              cluster: service1
                          - match:
                              prefix: "/service/2"
                            route:
                              cluster: service2
                      http_filters:
                      - name: envoy.filters.http.router
                        typed_config:
                          "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              clusters:
              - name: service1
                type: STATIC
                lb_policy: ROUND_ROBIN
                load_assignment:
                  cluster_name: service1
                  endpoints:
                  - lb_endpoints:
                    - endpoint:
                        address:
                          socket_address:
                            address: 127.0.0.1
                            port_value: %d
              - name: service2
                type: STRICT_DNS
                lb_policy: ROUND_ROBIN
                load_assignment:
                  cluster_name: service2
                  endpoints:
                  - lb_endpoints:
                    - endpoint:
                        address:
                          socket_address:
                            address: localhost
                            port_value: %d
            admin:
              address:
                socket_address:
                  address: 127.0.0.1
                  port_value: 0
            """
                .formatted(service1.port(), service2.port()));
  }

  @AfterEach
  void stop() {
    proxy.close();
    service1.close();
    service2.close();
  }

  @Test
  void routesByPathPrefixToTwoServices() throws Exception {
    HttpResponse<String> one = proxy.get("listener_0", "/service/1/hello");
    HttpResponse<String> two = proxy.get("listener_0", "/service/2");
    assertThat(one.statusCode()).isEqualTo(200);
    assertThat(one.body()).startsWith("service1 GET /service/1/hello");
    assertThat(two.statusCode()).isEqualTo(200);
    assertThat(two.body()).startsWith("service2 GET /service/2");
    assertThat(proxy.get("listener_0", "/service/3").statusCode()).isEqualTo(404);
  }

  @Test
  void setsTheHeadersEnvoySets() throws Exception {
    HttpResponse<String> r = proxy.get("listener_0", "/service/1");
    assertThat(r.body()).containsPattern("x-request-id: [0-9a-f-]{36}");
    assertThat(r.body()).contains("x-forwarded-proto: http");
    assertThat(r.body()).contains("x-envoy-expected-rq-timeout-ms: 15000");
    assertThat(r.headers().firstValue("server")).hasValue("envoy");
    assertThat(r.headers().firstValue("x-envoy-upstream-service-time")).isPresent();
    assertThat(r.headers().firstValue("x-upstream")).hasValue("yes");
  }

  @Test
  void keepsAnIncomingRequestIdAndTraceContextUntouched() throws Exception {
    String resp =
        RawHttp.exchange(
            proxy.port("listener_0"),
            "GET /service/1 HTTP/1.1\r\nHost: x\r\nx-request-id: abc-123\r\n"
                + "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
                + "x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7\r\n\r\n");
    assertThat(resp).contains("x-request-id: abc-123");
    assertThat(resp)
        .contains("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    assertThat(resp).contains("x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7");
  }

  @Test
  void servesManyRequestsOnOneKeptAliveConnectionInOrder() throws Exception {
    try (RawHttp c = new RawHttp(proxy.port("listener_0"))) {
      // Pipelined: both requests written before either response is read.
      c.send(
          "GET /service/1/a HTTP/1.1\r\nHost: x\r\n\r\nGET /service/2/b HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(c.readResponse()).contains("200 OK").contains("service1 GET /service/1/a");
      assertThat(c.readResponse()).contains("200 OK").contains("service2 GET /service/2/b");
    }
    assertThat(proxy.stat("http.ingress_http.downstream_cx_total")).isEqualTo(1);
    assertThat(proxy.stat("http.ingress_http.downstream_rq_total")).isEqualTo(2);
  }

  @Test
  void postsABodyThroughChunkedAndWithExpectContinue() throws Exception {
    String chunked =
        RawHttp.exchange(
            proxy.port("listener_0"),
            "POST /service/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    assertThat(chunked).contains("200 OK").contains("body: hello world");
    try (RawHttp c = new RawHttp(proxy.port("listener_0"))) {
      c.send(
          "POST /service/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
      assertThat(c.readResponse()).startsWith("HTTP/1.1 100 Continue");
      c.send("ping");
      assertThat(c.readResponse()).contains("200 OK").contains("body: ping");
    }
  }

  @Test
  void malformedRequestsGet400AndOversizedHeaders431() throws Exception {
    assertThat(RawHttp.exchange(proxy.port("listener_0"), "GARBAGE\r\n\r\n"))
        .startsWith("HTTP/1.1 400");
    assertThat(RawHttp.exchange(proxy.port("listener_0"), "GET /service/1 HTTP/1.1\r\n\r\n"))
        .startsWith("HTTP/1.1 400");
    String big = "x".repeat(70 * 1024);
    assertThat(
            RawHttp.exchange(
                proxy.port("listener_0"),
                "GET /service/1 HTTP/1.1\r\nHost: x\r\nx-big: " + big + "\r\n\r\n"))
        .startsWith("HTTP/1.1 431");
    // The proxy is still serving.
    assertThat(proxy.get("listener_0", "/service/1").statusCode()).isEqualTo(200);
  }

  @Test
  void adminShowsReadinessStatsClustersAndAConfigDumpInEnvoysShape() throws Exception {
    proxy.get("listener_0", "/service/1");
    assertThat(proxy.admin("GET", "/ready").body()).isEqualTo("LIVE\n");
    assertThat(proxy.admin("GET", "/stats").body())
        .contains("cluster.service1.upstream_rq_total: 1")
        .contains("cluster.service1.upstream_rq_2xx: 1")
        .contains("http.ingress_http.downstream_rq_total: 1");
    assertThat(proxy.admin("GET", "/stats/prometheus").body())
        .contains("envoy_cluster_upstream_rq_total{envoy_cluster_name=\"service1\"} 1");
    assertThat(proxy.admin("GET", "/clusters").body())
        .contains("service1::127.0.0.1:" + service1.port() + "::health_flags::healthy");
    String dump = proxy.admin("GET", "/config_dump").body();
    assertThat(dump)
        .contains("\"@type\": \"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump\"")
        .contains("\"@type\": \"type.googleapis.com/envoy.admin.v3.ClustersConfigDump\"")
        .contains("\"@type\": \"type.googleapis.com/envoy.admin.v3.ListenersConfigDump\"")
        .contains("\"name\": \"local_route\"");
    assertThat(proxy.admin("GET", "/quitquitquit").statusCode()).isEqualTo(405);
    assertThat(proxy.admin("POST", "/quitquitquit").body()).isEqualTo("OK\n");
  }
}
