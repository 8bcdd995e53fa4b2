package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Retry and circuit-breaker fields, and admin endpoints, each observed where a client sees it. */
class RetryAndBreakerFieldsTest {
  ProxyFixture proxy;
  TestUpstream up;

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    if (up != null) {
      up.close();
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis); // the upstream is slow on purpose; no test waits on this
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void aPerTryTimeoutRetriesASlowFirstTry() throws Exception {
    up =
        new TestUpstream(
            "slow-once",
            (ex, n) -> {
              if (n == 1) {
                sleep(2000);
              }
              TestUpstream.reply(ex, 200, "try " + n);
            });
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp(
                    """
                    retry_policy: {retry_on: 5xx, num_retries: 1, per_try_timeout: 0.2s}
                    """),
                Bootstraps.cluster("up", up.port())));
    HttpResponse<String> r = proxy.get("http", "/");
    assertThat(r.body()).isEqualTo("try 2");
    assertThat(proxy.stat("cluster.up.upstream_rq_timeout")).isEqualTo(1);
  }

  @Test
  void gatewayErrorRetriesA502ButNotA500() throws Exception {
    up =
        new TestUpstream(
            "gateway",
            (ex, n) -> {
              int status = ex.getRequestURI().getPath().equals("/502") ? 502 : 500;
              TestUpstream.reply(ex, n % 2 == 1 ? status : 200, "try " + n);
            });
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp("retry_policy: {retry_on: gateway-error, num_retries: 1}\n"),
                Bootstraps.cluster("up", up.port())));
    assertThat(proxy.get("http", "/502").statusCode()).isEqualTo(200);
    assertThat(proxy.get("http", "/500").statusCode()).isEqualTo(500);
  }

  @Test
  void connectFailureRetriesOnAnotherHost() throws Exception {
    up = TestUpstream.echo("up");
    int refused;
    try (ServerSocket s = new ServerSocket(0)) {
      refused = s.getLocalPort();
    }
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp("retry_policy: {retry_on: connect-failure, num_retries: 1}\n"),
                Bootstraps.cluster("up", refused, up.port())));
    for (int i = 0; i < 4; i++) {
      assertThat(proxy.get("http", "/").statusCode()).isEqualTo(200);
    }
    assertThat(proxy.stat("cluster.up.upstream_cx_connect_fail")).isPositive();
  }

  @Test
  void maxRequestsOverflowsTheRequestBeyondIt() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    up =
        new TestUpstream(
            "held",
            (ex, n) -> {
              arrived.countDown();
              try {
                release.await(20, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              TestUpstream.reply(ex, 200, "ok");
            });
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp(""),
                Bootstraps.cluster("up", up.port())
                    + "  circuit_breakers: {thresholds: [{max_requests: 1}]}\n"));
    CompletableFuture<HttpResponse<String>> first =
        proxy.http.sendAsync(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port("http") + "/"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(arrived.await(10, TimeUnit.SECONDS)).isTrue();
    HttpResponse<String> second = proxy.get("http", "/");
    assertThat(second.statusCode()).isEqualTo(503);
    assertThat(second.body()).endsWith("overflow");
    release.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
  }

  @Test
  void maxRetriesZeroStopsRetries() throws Exception {
    up = new TestUpstream("flaky", (ex, n) -> TestUpstream.reply(ex, n % 2 == 1 ? 503 : 200, "t"));
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp("retry_policy: {retry_on: 5xx, num_retries: 3}\n"),
                Bootstraps.cluster("up", up.port())
                    + "  circuit_breakers: {thresholds: [{max_retries: 0}]}\n"));
    assertThat(proxy.get("http", "/").statusCode()).isEqualTo(503);
    assertThat(proxy.stat("cluster.up.upstream_rq_retry_overflow")).isEqualTo(1);
  }

  @Test
  void consecutiveGatewayFailuresEjectWhenEnforced() throws Exception {
    up = new TestUpstream("bad-gateway", (ex, n) -> TestUpstream.reply(ex, 502, "bad"));
    try (TestUpstream good = TestUpstream.echo("good")) {
      proxy =
          new ProxyFixture(
              Bootstraps.http(
                  Bootstraps.allToUp(""),
                  Bootstraps.cluster("up", up.port(), good.port())
                      + """
                        outlier_detection:
                          consecutive_5xx: 1000
                          consecutive_gateway_failure: 2
                          enforcing_consecutive_gateway_failure: 100
                          max_ejection_percent: 50
                      """));
      for (int i = 0; i < 20; i++) {
        proxy.get("http", "/");
      }
      assertThat(up.requests.get()).isEqualTo(2);
    }
  }

  @Test
  void adminListsListenersAndServerInfo() throws Exception {
    up = TestUpstream.echo("up");
    proxy =
        new ProxyFixture(
            Bootstraps.http(Bootstraps.allToUp(""), Bootstraps.cluster("up", up.port())));
    assertThat(proxy.admin("GET", "/listeners").body())
        .isEqualTo("http::127.0.0.1:" + proxy.port("http") + "\n");
    assertThat(proxy.admin("GET", "/server_info").body()).contains("\"state\": \"LIVE\"");
    // The TLS library at the end of the version, as Envoy's: on linux-x86_64, whose native
    // BoringSSL the proxy ships, it is BoringSSL, not the JDK's fallback.
    if (System.getProperty("os.name").equals("Linux")
        && System.getProperty("os.arch").equals("amd64")) {
      assertThat(proxy.admin("GET", "/server_info").body())
          .contains("\"version\": \"mesh-proxy/0.1.0/BoringSSL\"");
    }
    assertThat(proxy.admin("GET", "/nope").statusCode()).isEqualTo(404);
  }
}
