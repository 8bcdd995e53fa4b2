package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fault filter, configured the way Istio configures it: per route, over an empty filter. */
class FaultFilterTest {
  TestUpstream upstream;
  ProxyFixture proxy;

  private static final String FAULT =
      "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

  @BeforeEach
  void start() throws Exception {
    upstream = TestUpstream.echo("up");
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                """
                - name: all
                  domains: ["*"]
                  routes:
                  - match: {prefix: "/abort"}
                    route: {cluster: up}
                    typed_per_filter_config:
                      envoy.filters.http.fault:
                        "@type": %1$s
                        abort: {http_status: 503, percentage: {numerator: 100}}
                  - match: {prefix: "/half"}
                    route: {cluster: up}
                    typed_per_filter_config:
                      envoy.filters.http.fault:
                        "@type": %1$s
                        abort: {http_status: 500, percentage: {numerator: 50, denominator: HUNDRED}}
                  - match: {prefix: "/never"}
                    route: {cluster: up}
                    typed_per_filter_config:
                      envoy.filters.http.fault:
                        "@type": %1$s
                        abort: {http_status: 500, percentage: {numerator: 0}}
                  - match: {prefix: "/delay"}
                    route: {cluster: up}
                    typed_per_filter_config:
                      envoy.filters.http.fault:
                        "@type": %1$s
                        delay: {fixed_delay: 0.3s, percentage: {numerator: 1000000, denominator: MILLION}}
                  - match: {prefix: "/jason"}
                    route: {cluster: up}
                    typed_per_filter_config:
                      envoy.filters.http.fault:
                        "@type": %1$s
                        headers: [{name: end-user, string_match: {exact: jason}}]
                        abort: {http_status: 418, percentage: {numerator: 100}}
                  - match: {prefix: "/elsewhere"}
                    route: {cluster: up}
                    typed_per_filter_config:
                      envoy.filters.http.fault:
                        "@type": %1$s
                        upstream_cluster: other
                        abort: {http_status: 500, percentage: {numerator: 100}}
                  - match: {prefix: "/grpc"}
                    route: {cluster: up}
                    typed_per_filter_config:
                      envoy.filters.http.fault:
                        "@type": %1$s
                        abort: {grpc_status: 14, percentage: {numerator: 100}}
                  - match: {prefix: "/"}
                    route: {cluster: up}
                """
                    .formatted(FAULT),
                Bootstraps.cluster("up", upstream.port()),
                """
                - name: envoy.filters.http.fault
                  typed_config:
                    "@type": %s
                    abort:
                      header_abort: {}
                      percentage: {numerator: 100}
                """
                    .formatted(FAULT)));
  }

  @AfterEach
  void stop() {
    proxy.close();
    upstream.close();
  }

  private HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port("http") + path));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return proxy.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aRouteAbortAnswersWithoutReachingTheUpstream() throws Exception {
    HttpResponse<String> r = get("/abort");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("fault filter abort");
    assertThat(upstream.requests.get()).isZero();
    assertThat(proxy.stat("http.test.fault.aborts_injected")).isEqualTo(1);
  }

  @Test
  void aFiftyPercentAbortHitsHalfTheRequestsWithinABinomialBound() throws Exception {
    int aborted = 0;
    int n = 1000;
    for (int i = 0; i < n; i++) {
      if (get("/half").statusCode() == 500) {
        aborted++;
      }
    }
    // 99.9% two-sided bound for Binomial(1000, 0.5): 500 +- 3.29 * 15.8.
    assertThat(aborted).isBetween(448, 552);
    assertThat(get("/never").statusCode()).isEqualTo(200);
  }

  @Test
  void aDelayHoldsTheRequestThenForwardsIt() throws Exception {
    long start = System.nanoTime();
    HttpResponse<String> r = get("/delay");
    long tookMillis = (System.nanoTime() - start) / 1_000_000;
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(tookMillis).isGreaterThanOrEqualTo(300);
    assertThat(proxy.stat("http.test.fault.delays_injected")).isEqualTo(1);
  }

  @Test
  void headerMatchersLimitTheFaultToMatchingRequests() throws Exception {
    assertThat(get("/jason", "end-user", "jason").statusCode()).isEqualTo(418);
    assertThat(get("/jason", "end-user", "mary").statusCode()).isEqualTo(200);
  }

  @Test
  void theFilterLevelHeaderAbortIsControlledByTheRequest() throws Exception {
    assertThat(get("/", "x-envoy-fault-abort-request", "429").statusCode()).isEqualTo(429);
    assertThat(get("/").statusCode()).isEqualTo(200);
  }

  @Test
  void upstreamClusterRestrictsTheFaultToRoutesToThatCluster() throws Exception {
    assertThat(get("/elsewhere").statusCode()).isEqualTo(200);
  }

  @Test
  void aGrpcAbortIsATrailersOnlyResponse() throws Exception {
    HttpResponse<String> r = get("/grpc", "content-type", "application/grpc");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("grpc-status")).hasValue("14");
    assertThat(r.headers().firstValue("content-type")).hasValue("application/grpc");
  }
}
