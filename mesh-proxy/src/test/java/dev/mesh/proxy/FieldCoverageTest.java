package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.proxy.config.ConfigRejectedException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Supported fields that no other test covers: each assertion fails if its field is ignored. */
class FieldCoverageTest {
  ProxyFixture proxy;
  TestUpstream a;
  TestUpstream b;

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    if (a != null) {
      a.close();
    }
    if (b != null) {
      b.close();
    }
  }

  private static final String ALL_TO_A =
      """
      - name: all
        domains: ["*"]
        routes: [{match: {prefix: "/"}, route: {cluster: a}}]
      """;

  /** The same bootstrap with fields set on the http_connection_manager. */
  private static String withHcmFields(String yaml, String fields) {
    return yaml.replace("stat_prefix: test\n", "stat_prefix: test\n" + fields.indent(10));
  }

  @Test
  void inlineRoutesMustNameKnownClustersUnlessValidationIsOff() {
    String yaml =
        Bootstraps.http(
            ALL_TO_A.replace("cluster: a", "cluster: nowhere"), Bootstraps.cluster("a", 1));
    assertThatThrownBy(() -> new ProxyFixture(yaml))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("unknown cluster 'nowhere'");
  }

  @Test
  void weightedClustersMustAddUpToTotalWeight() throws Exception {
    a = TestUpstream.echo("a");
    String routes =
        """
        - name: all
          domains: ["*"]
          routes:
          - match: {prefix: "/"}
            route:
              weighted_clusters:
                total_weight: 100
                clusters: [{name: a, weight: 60}]
        """;
    assertThatThrownBy(
            () -> new ProxyFixture(Bootstraps.http(routes, Bootstraps.cluster("a", a.port()))))
        .hasMessageContaining("add up to 60, not total_weight 100");
  }

  @Test
  void connectionManagerFieldsChangeWhatClientsAndUpstreamsSee() throws Exception {
    a = TestUpstream.echo("a");
    proxy =
        new ProxyFixture(
            withHcmFields(
                Bootstraps.http(ALL_TO_A, Bootstraps.cluster("a", a.port())),
                """
                server_name: mesh-test
                use_remote_address: true
                generate_request_id: false
                strip_any_host_port: true
                """));
    String r =
        RawHttp.exchange(
            proxy.port("http"),
            "GET / HTTP/1.1\r\nHost: x:1234\r\nx-forwarded-for: 203.0.113.9\r\n\r\n");
    assertThat(r).contains("server: mesh-test");
    assertThat(r).contains("x-forwarded-for: 203.0.113.9,127.0.0.1");
    assertThat(r).doesNotContain("x-request-id");
  }

  @Test
  void skipXffAppendLeavesXForwardedForAlone() throws Exception {
    a = TestUpstream.echo("a");
    proxy =
        new ProxyFixture(
            withHcmFields(
                Bootstraps.http(ALL_TO_A, Bootstraps.cluster("a", a.port())),
                "use_remote_address: true\nskip_xff_append: true\n"));
    String r =
        RawHttp.exchange(
            proxy.port("http"),
            "GET / HTTP/1.1\r\nHost: x\r\nx-forwarded-for: 203.0.113.9\r\n\r\n");
    assertThat(r).contains("x-forwarded-for: 203.0.113.9\n");
  }

  @Test
  void stripAnyHostPortLetsAPortlessDomainMatch() throws Exception {
    a = TestUpstream.echo("a");
    String routes =
        """
        - name: only-reviews
          domains: ["reviews"]
          routes: [{match: {prefix: "/"}, route: {cluster: a}}]
        """;
    proxy = new ProxyFixture(Bootstraps.http(routes, Bootstraps.cluster("a", a.port())));
    assertThat(RawHttp.exchange(proxy.port("http"), "GET / HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"))
        .startsWith("HTTP/1.1 404");
    proxy.close();
    proxy =
        new ProxyFixture(
            withHcmFields(
                Bootstraps.http(routes, Bootstraps.cluster("a", a.port())),
                "strip_any_host_port: true\n"));
    assertThat(RawHttp.exchange(proxy.port("http"), "GET / HTTP/1.1\r\nHost: reviews:9080\r\n\r\n"))
        .startsWith("HTTP/1.1 200");
  }

  @Test
  void caseInsensitiveAndPathSeparatedMatches() throws Exception {
    a = TestUpstream.echo("a");
    b = TestUpstream.echo("b");
    String routes =
        """
        - name: all
          domains: ["*"]
          routes:
          - match: {prefix: "/API", case_sensitive: false}
            route: {cluster: b}
          - match: {path_separated_prefix: "/docs"}
            route: {cluster: b}
          - match: {prefix: "/"}
            route: {cluster: a}
        """;
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                routes, Bootstraps.cluster("a", a.port()) + Bootstraps.cluster("b", b.port())));
    assertThat(proxy.get("http", "/api/v1").body()).startsWith("b ");
    assertThat(proxy.get("http", "/docs/intro").body()).startsWith("b ");
    assertThat(proxy.get("http", "/docs").body()).startsWith("b ");
    assertThat(proxy.get("http", "/docsearch").body()).startsWith("a ");
  }

  @Test
  void redirectVariants() throws Exception {
    a = TestUpstream.echo("a");
    String routes =
        """
        - name: all
          domains: ["*"]
          routes:
          - match: {prefix: "/secure"}
            redirect: {https_redirect: true}
          - match: {prefix: "/moved"}
            redirect: {host_redirect: new.example.com, port_redirect: 8443, strip_query: true}
          - match: {prefix: "/"}
            route: {cluster: a}
        """;
    proxy = new ProxyFixture(Bootstraps.http(routes, Bootstraps.cluster("a", a.port())));
    assertThat(
            RawHttp.exchange(
                proxy.port("http"), "GET /secure/x HTTP/1.1\r\nHost: shop.example.com\r\n\r\n"))
        .startsWith("HTTP/1.1 301")
        .contains("location: https://shop.example.com/secure/x");
    assertThat(RawHttp.exchange(proxy.port("http"), "GET /moved?a=1 HTTP/1.1\r\nHost: old\r\n\r\n"))
        .contains("location: http://new.example.com:8443/moved\r\n");
  }

  @Test
  void loadBalancingWeightsAndHealthStatusShapeTheSplit() throws Exception {
    a = TestUpstream.echo("a");
    b = TestUpstream.echo("b");
    try (TestUpstream c = TestUpstream.echo("c")) {
      String cluster =
          """
          - name: a
            load_assignment:
              cluster_name: a
              endpoints:
              - lb_endpoints:
                - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
                  load_balancing_weight: 3
                - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
                - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
                  health_status: UNHEALTHY
          """
              .formatted(a.port(), b.port(), c.port());
      proxy = new ProxyFixture(Bootstraps.http(ALL_TO_A, cluster));
      for (int i = 0; i < 40; i++) {
        proxy.get("http", "/");
      }
      assertThat(a.requests.get()).isEqualTo(30);
      assertThat(b.requests.get()).isEqualTo(10);
      assertThat(c.requests.get()).isZero();
    }
  }

  @Test
  void randomAndLeastRequestUseEveryHost() throws Exception {
    a = TestUpstream.echo("a");
    b = TestUpstream.echo("b");
    for (String policy : new String[] {"RANDOM", "LEAST_REQUEST"}) {
      String cluster =
          Bootstraps.cluster("a", a.port(), b.port()) + "  lb_policy: " + policy + "\n";
      proxy = new ProxyFixture(Bootstraps.http(ALL_TO_A, cluster));
      int before = b.requests.get();
      // Which host answered each call: round robin would alternate, a random choice runs.
      StringBuilder hosts = new StringBuilder();
      for (int i = 0; i < 200; i++) {
        hosts.append(proxy.get("http", "/").body().charAt(0));
      }
      assertThat(b.requests.get() - before).as(policy).isBetween(40, 160);
      // Over 200 fair choices a run of three alike is all but certain (1 - 1e-15); under round
      // robin there is none.
      assertThat(hosts.toString()).as(policy).containsAnyOf("aaa", "bbb");
      proxy.close();
      proxy = null;
    }
  }

  @Test
  void logicalDnsResolvesWithTheAskedFamily() throws Exception {
    a = TestUpstream.echo("a");
    String cluster =
        """
        - name: a
          type: LOGICAL_DNS
          dns_lookup_family: V4_ONLY
          load_assignment:
            cluster_name: a
            endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: localhost, port_value: %d}}}}]}]
        """
            .formatted(a.port());
    proxy = new ProxyFixture(Bootstraps.http(ALL_TO_A, cluster));
    assertThat(proxy.get("http", "/").statusCode()).isEqualTo(200);
    assertThat(proxy.server.clusters().get("a").endpoints())
        .singleElement()
        .satisfies(
            e -> assertThat(e.address().getAddress()).isInstanceOf(java.net.Inet4Address.class));
  }

  @Test
  void listenerStatPrefixNamesItsStats() throws Exception {
    a = TestUpstream.echo("a");
    String yaml =
        Bootstraps.http(ALL_TO_A, Bootstraps.cluster("a", a.port()))
            .replace("- name: http\n", "- name: http\n    stat_prefix: public_http\n");
    proxy = new ProxyFixture(yaml);
    proxy.get("http", "/");
    assertThat(proxy.stat("listener.public_http.downstream_cx_total")).isEqualTo(1);
  }

  @Test
  void idleConnectionsAreClosedAfterTheirTimeouts() throws Exception {
    a = TestUpstream.echo("a");
    proxy =
        new ProxyFixture(
            withHcmFields(
                Bootstraps.http(ALL_TO_A, Bootstraps.cluster("a", a.port())),
                "common_http_protocol_options: {idle_timeout: 0.2s}\n"));
    try (RawHttp c = new RawHttp(proxy.port("http"))) {
      c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(c.readResponse()).startsWith("HTTP/1.1 200");
      // Kept alive while it is used: a second request at once is served on it.
      c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(c.readResponse()).startsWith("HTTP/1.1 200");
      long idleFrom = System.nanoTime();
      assertThat(c.closedByPeer()).isTrue();
      // ... and closed once idle for the timeout, not before.
      assertThat(System.nanoTime() - idleFrom)
          .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(150));
    }
    try (ServerSocket sink = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      proxy.close();
      proxy =
          new ProxyFixture(
              """
              static_resources:
                listeners:
                - name: tcp
                  address: {socket_address: {address: 127.0.0.1, port_value: 0}}
                  filter_chains:
                  - filters:
                    - name: tcp
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                        stat_prefix: idle
                        cluster: sink
                        idle_timeout: 0.2s
                clusters:
                - name: sink
                  load_assignment: {cluster_name: s, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]}
              """
                  .formatted(sink.getLocalPort()));
      try (Socket s = new Socket("127.0.0.1", proxy.port("tcp"))) {
        s.setSoTimeout((int) TimeUnit.SECONDS.toMillis(10));
        long openedAt = System.nanoTime();
        assertThat(s.getInputStream().read()).isEqualTo(-1);
        // Closed for being idle, after the timeout, not at once.
        assertThat(System.nanoTime() - openedAt)
            .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(150));
      }
      assertThat(proxy.stat("tcp.idle.idle_timeout")).isEqualTo(1);
    }
  }

  @Test
  void slowClientsAreAnswered408ByTheirTimeouts() throws Exception {
    a = TestUpstream.echo("a");
    proxy =
        new ProxyFixture(
            withHcmFields(
                Bootstraps.http(ALL_TO_A, Bootstraps.cluster("a", a.port())),
                "request_headers_timeout: 0.3s\nstream_idle_timeout: 0.6s\n"));
    try (RawHttp c = new RawHttp(proxy.port("http"))) {
      c.send("GET / HTTP/1.1\r\nHost: x\r\n"); // headers never finished
      assertThat(c.readResponse()).startsWith("HTTP/1.1 408");
      assertThat(c.closedByPeer()).isTrue();
    }
    assertThat(a.requests.get()).isZero(); // headers that never ended went nowhere
    try (RawHttp c = new RawHttp(proxy.port("http"))) {
      // The body stalls: its headers went upstream (bodies stream, as in Envoy), the client gets
      // 408 and its connection closes.
      c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
      assertThat(c.readResponse()).startsWith("HTTP/1.1 408");
      assertThat(c.closedByPeer()).isTrue();
    }
    assertThat(proxy.stat("http.test.downstream_rq_header_timeout")).isEqualTo(1);
    assertThat(proxy.stat("http.test.downstream_rq_idle_timeout")).isEqualTo(1);
    // A client that finishes in time is served as usual.
    assertThat(proxy.get("http", "/").statusCode()).isEqualTo(200);
  }

  @Test
  void codecTypeFixesTheProtocolAConnectionMustSpeak() throws Exception {
    a = TestUpstream.echo("a");
    String base = Bootstraps.http(ALL_TO_A, Bootstraps.cluster("a", a.port()));
    String preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    proxy = new ProxyFixture(withHcmFields(base, "codec_type: HTTP1\n"));
    assertThat(RawHttp.exchange(proxy.port("http"), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 200");
    assertThat(RawHttp.exchange(proxy.port("http"), preface)).startsWith("HTTP/1.1 400");
    proxy.close();
    proxy = new ProxyFixture(withHcmFields(base, "codec_type: HTTP2\n"));
    // An HTTP/1.1 request on an HTTP/2-only connection gets no HTTP/1.1 answer: the proxy speaks
    // HTTP/2 (its first frame is SETTINGS, type 4), then closes.
    try (Socket s = new Socket("127.0.0.1", proxy.port("http"))) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
      byte[] frameHeader = s.getInputStream().readNBytes(9);
      assertThat(frameHeader).hasSize(9);
      assertThat(frameHeader[3]).isEqualTo((byte) 4);
    }
  }
}
