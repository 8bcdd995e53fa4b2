package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Retries, timeouts and failures: what the client sees, and Envoy's stats for them. */
class UpstreamFailureTest {
  ProxyFixture proxy;
  TestUpstream upstream;

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  @Test
  void retriesHideAFlakyUpstream() throws Exception {
    upstream =
        new TestUpstream(
            "flaky", (ex, n) -> TestUpstream.reply(ex, n % 2 == 1 ? 503 : 200, "try " + n));
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp(
                    """
                    retry_policy:
                      retry_on: 5xx
                      num_retries: 2
                      retry_back_off: {base_interval: 0.01s}
                    """),
                Bootstraps.cluster("up", upstream.port())));
    var r = proxy.get("http", "/");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("try 2");
    assertThat(proxy.stat("cluster.up.upstream_rq_retry")).isEqualTo(1);
    assertThat(proxy.stat("cluster.up.upstream_rq_5xx")).isEqualTo(1);
  }

  @Test
  void withoutARetryPolicyTheFailureReachesTheClient() throws Exception {
    upstream =
        new TestUpstream(
            "flaky", (ex, n) -> TestUpstream.reply(ex, n % 2 == 1 ? 503 : 200, "try " + n));
    proxy =
        new ProxyFixture(
            Bootstraps.http(Bootstraps.allToUp(""), Bootstraps.cluster("up", upstream.port())));
    assertThat(proxy.get("http", "/").statusCode()).isEqualTo(503);
  }

  @Test
  void retriableStatusCodesAreRetriedOnlyWhenListed() throws Exception {
    upstream =
        new TestUpstream(
            "teapot", (ex, n) -> TestUpstream.reply(ex, n == 1 ? 409 : 200, "try " + n));
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp(
                    """
                    retry_policy:
                      retry_on: retriable-status-codes
                      retriable_status_codes: [409]
                      num_retries: 1
                    """),
                Bootstraps.cluster("up", upstream.port())));
    assertThat(proxy.get("http", "/").body()).isEqualTo("try 2");
  }

  @Test
  void aTimeoutCutsASlowUpstreamWith504() throws Exception {
    upstream =
        new TestUpstream(
            "slow",
            (ex, n) -> {
              try {
                Thread.sleep(3000);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              TestUpstream.reply(ex, 200, "late");
            });
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                Bootstraps.allToUp("timeout: 0.2s"), Bootstraps.cluster("up", upstream.port())));
    var r = proxy.get("http", "/");
    assertThat(r.statusCode()).isEqualTo(504);
    assertThat(r.body()).isEqualTo("upstream request timeout");
    assertThat(proxy.stat("cluster.up.upstream_rq_timeout")).isEqualTo(1);
  }

  @Test
  void aRefusedConnectionIs503WithEnvoysReason() throws Exception {
    int closedPort;
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    proxy =
        new ProxyFixture(
            Bootstraps.http(Bootstraps.allToUp(""), Bootstraps.cluster("up", closedPort)));
    var r = proxy.get("http", "/");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body())
        .isEqualTo(
            "upstream connect error or disconnect/reset before headers. reset reason: connection failure");
    assertThat(proxy.stat("cluster.up.upstream_cx_connect_fail")).isEqualTo(1);
  }

  @Test
  void anUnknownClusterIs503AndAnEmptyOneSaysNoHealthyUpstream() throws Exception {
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                """
                - name: all
                  domains: ["*"]
                  routes:
                  - match: {prefix: "/missing"}
                    route: {cluster: nowhere}
                  - match: {prefix: "/"}
                    route: {cluster: empty}
                """,
                "- name: empty\n  type: STATIC\n  load_assignment: {cluster_name: empty}\n",
                "",
                "validate_clusters: false"));
    assertThat(proxy.get("http", "/missing").statusCode()).isEqualTo(503);
    var r = proxy.get("http", "/");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("no healthy upstream");
  }

  @Test
  void roundRobinAlternatesBetweenEndpoints() throws Exception {
    upstream = TestUpstream.echo("one");
    try (TestUpstream two = TestUpstream.echo("two")) {
      proxy =
          new ProxyFixture(
              Bootstraps.http(
                  Bootstraps.allToUp(""), Bootstraps.cluster("up", upstream.port(), two.port())));
      for (int i = 0; i < 10; i++) {
        proxy.get("http", "/");
      }
      assertThat(upstream.requests.get()).isEqualTo(5);
      assertThat(two.requests.get()).isEqualTo(5);
    }
  }
}
