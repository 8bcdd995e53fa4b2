package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP filter model as a user of Envoy's config sees it: http_filters run in their order on the
 * request and in reverse on the response, a filter can hold a request and let it go later with its
 * body intact, local replies pass through the encoder filters with the route's response headers,
 * and a route's typed_per_filter_config overrides a filter. The tag filter used here (test.tag)
 * exists only in the tests: its one registration line is how the proxy finds it.
 */
class FilterModelTest {
  private static final String FAULT =
      "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
  private static final String HEALTH =
      "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck";

  TestUpstream upstream;
  ProxyFixture proxy;

  @BeforeEach
  void start() throws Exception {
    upstream = TestUpstream.echo("up");
  }

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    upstream.close();
  }

  private static String tag(String name, String tag, long holdMillis) {
    return """
        - name: %s
          typed_config:
            "@type": type.googleapis.com/xds.type.v3.TypedStruct
            type_url: type.googleapis.com/test.mesh.Tag
            value: {tag: %s, hold_ms: %d}
        """
        .formatted(name, tag, holdMillis);
  }

  private static final String FAULT_ALWAYS =
      """
      - name: envoy.filters.http.fault
        typed_config:
          "@type": %s
          abort: {http_status: 503, percentage: {numerator: 100}}
      """
          .formatted(FAULT);

  private static final String HEALTH_CHECK =
      """
      - name: envoy.filters.http.health_check
        typed_config:
          "@type": %s
          pass_through_mode: false
          headers: [{name: ":path", string_match: {exact: /healthz}}]
      """
          .formatted(HEALTH);

  private static final String ALL_TO_UP =
      """
      - name: all
        domains: ["*"]
        routes:
        - match: {prefix: "/"}
          route: {cluster: up}
      """;

  private HttpResponse<String> get(String path) throws Exception {
    return proxy.get("http", path);
  }

  @Test
  void theSameFiltersInAnotherOrderAnswerDifferently() throws Exception {
    String clusters = Bootstraps.cluster("up", upstream.port());
    proxy = new ProxyFixture(Bootstraps.http(ALL_TO_UP, clusters, HEALTH_CHECK + FAULT_ALWAYS));
    HttpResponse<String> healthFirst = get("/healthz");
    assertThat(healthFirst.statusCode()).isEqualTo(200);
    proxy.close();

    proxy = new ProxyFixture(Bootstraps.http(ALL_TO_UP, clusters, FAULT_ALWAYS + HEALTH_CHECK));
    HttpResponse<String> faultFirst = get("/healthz");
    assertThat(faultFirst.statusCode()).isEqualTo(503);
    assertThat(faultFirst.body()).isEqualTo("fault filter abort");
    assertThat(upstream.requests.get()).isZero();
  }

  @Test
  void decoderFiltersRunInOrderAndEncoderFiltersInReverse() throws Exception {
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                ALL_TO_UP,
                Bootstraps.cluster("up", upstream.port()),
                tag("first", "a", 0) + tag("second", "b", 0)));
    HttpResponse<String> r = get("/");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("x-decoded-by: a,b\n");
    assertThat(r.headers().allValues("x-encoded-by")).containsExactly("b", "a");
  }

  @Test
  void aFilterThatHoldsTheRequestDeliversItsWholeBodyWhenItLetsGo() throws Exception {
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                ALL_TO_UP, Bootstraps.cluster("up", upstream.port()), tag("hold", "h", 300)));
    byte[] body = new byte[200_000];
    for (int i = 0; i < body.length; i++) {
      body[i] = (byte) ('a' + i % 26);
    }
    long start = System.nanoTime();
    // Chunked, so the body arrives in pieces while the filter holds the request.
    HttpResponse<String> r =
        proxy.http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port("http") + "/up"))
                .POST(
                    HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    long tookMillis = (System.nanoTime() - start) / 1_000_000;
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("body: " + new String(body, StandardCharsets.US_ASCII) + "\n");
    assertThat(tookMillis).isGreaterThanOrEqualTo(300);
  }

  @Test
  void aHeldRequestWhoseBodyOutgrowsTheBufferLimitGets413() throws Exception {
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                ALL_TO_UP, Bootstraps.cluster("up", upstream.port()), tag("hold", "h", 5_000)));
    byte[] body = new byte[2 * 1024 * 1024];
    Arrays.fill(body, (byte) 'x');
    HttpResponse<String> r =
        proxy.http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port("http") + "/up"))
                .POST(
                    HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(413);
    assertThat(r.body()).isEqualTo("Payload Too Large");
    assertThat(upstream.requests.get()).isZero();
  }

  @Test
  void localRepliesCarryTheRoutesResponseHeadersThroughTheEncoderFilters() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    String hosts =
        """
        - name: all
          domains: ["*"]
          response_headers_to_add: [{header: {key: x-host, value: h1}}]
          routes:
          - match: {prefix: "/abort"}
            route: {cluster: up}
            response_headers_to_add: [{header: {key: x-route, value: abort}}]
            typed_per_filter_config:
              envoy.filters.http.fault:
                "@type": %s
                abort: {http_status: 418, percentage: {numerator: 100}}
          - match: {prefix: "/down"}
            route: {cluster: down}
            response_headers_to_add: [{header: {key: x-route, value: down}}]
          - match: {prefix: "/"}
            route: {cluster: up}
        """
            .formatted(FAULT);
    String noFault =
        """
        - name: envoy.filters.http.fault
          typed_config:
            "@type": %s
        """
            .formatted(FAULT);
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                hosts,
                Bootstraps.cluster("up", upstream.port()) + Bootstraps.cluster("down", closed),
                tag("tag", "a", 0) + noFault));
    HttpResponse<String> aborted = get("/abort");
    assertThat(aborted.statusCode()).isEqualTo(418);
    assertThat(aborted.headers().firstValue("x-route")).hasValue("abort");
    assertThat(aborted.headers().firstValue("x-host")).hasValue("h1");
    assertThat(aborted.headers().allValues("x-encoded-by")).containsExactly("a");

    HttpResponse<String> failed = get("/down");
    assertThat(failed.statusCode()).isEqualTo(503);
    assertThat(failed.body()).contains("reset reason: connection failure");
    assertThat(failed.headers().firstValue("x-route")).hasValue("down");
    assertThat(failed.headers().allValues("x-encoded-by")).containsExactly("a");

    HttpResponse<String> served = get("/");
    assertThat(served.statusCode()).isEqualTo(200);
    assertThat(served.headers().firstValue("x-route")).isEmpty();
    assertThat(served.headers().firstValue("x-host")).hasValue("h1");
  }

  @Test
  void aRoutesTypedPerFilterConfigOverridesTheFilters() throws Exception {
    String hosts =
        """
        - name: all
          domains: ["*"]
          routes:
          - match: {prefix: "/special"}
            route: {cluster: up}
            typed_per_filter_config:
              tagging:
                "@type": type.googleapis.com/xds.type.v3.TypedStruct
                type_url: type.googleapis.com/test.mesh.Tag
                value: {tag: special}
          - match: {prefix: "/"}
            route: {cluster: up}
        """;
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                hosts, Bootstraps.cluster("up", upstream.port()), tag("tagging", "plain", 0)));
    HttpResponse<String> special = get("/special");
    assertThat(special.body()).contains("x-decoded-by: special\n");
    assertThat(special.headers().allValues("x-encoded-by")).containsExactly("special");
    HttpResponse<String> plain = get("/other");
    assertThat(plain.body()).contains("x-decoded-by: plain\n");
    assertThat(plain.headers().allValues("x-encoded-by")).containsExactly("plain");
  }
}
