package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Envoy's health check filter, and the admin endpoints that fail and restore it. */
class HealthCheckFilterTest {
  TestUpstream app;
  ProxyFixture proxy;

  @AfterEach
  void stop() {
    proxy.close();
    app.close();
  }

  private ProxyFixture proxy(boolean passThrough) throws Exception {
    return new ProxyFixture(
        Bootstraps.http(
            """
            - name: all
              domains: ["*"]
              routes: [{match: {prefix: "/"}, route: {cluster: app}}]
            """,
            Bootstraps.cluster("app", app.port()),
            """
            - name: envoy.filters.http.health_check
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
                pass_through_mode: %s
                headers:
                - name: ":path"
                  string_match: {exact: /healthz}
            """
                .formatted(passThrough)));
  }

  @Test
  void theProxyAnswersHealthChecksAndFailsThemOnRequest() throws Exception {
    app = TestUpstream.echo("app");
    proxy = proxy(false);
    assertThat(proxy.get("http", "/healthz").statusCode()).isEqualTo(200);
    assertThat(app.requests.get()).isZero();
    assertThat(proxy.admin("POST", "/healthcheck/fail").statusCode()).isEqualTo(200);
    assertThat(proxy.get("http", "/healthz").statusCode()).isEqualTo(503);
    assertThat(proxy.get("http", "/other").statusCode()).isEqualTo(200);
    assertThat(proxy.admin("POST", "/healthcheck/ok").statusCode()).isEqualTo(200);
    assertThat(proxy.get("http", "/healthz").statusCode()).isEqualTo(200);
  }

  @Test
  void passThroughSendsHealthChecksToTheAppUnlessFailing() throws Exception {
    app = TestUpstream.echo("app");
    proxy = proxy(true);
    assertThat(proxy.get("http", "/healthz").body()).startsWith("app GET /healthz");
    proxy.admin("POST", "/healthcheck/fail");
    assertThat(proxy.get("http", "/healthz").statusCode()).isEqualTo(503);
    assertThat(app.requests.get()).isEqualTo(1);
  }
}
