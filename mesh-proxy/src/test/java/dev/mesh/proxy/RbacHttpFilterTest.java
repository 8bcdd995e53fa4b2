package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * envoy.filters.http.rbac on a real listener in front of a real upstream, configured as Istio
 * configures it for an AuthorizationPolicy: a DENY filter before an ALLOW filter, policies of
 * and_rules/or_rules, per-route RBACPerRoute, shadow rules with Istio's dry-run stat prefix.
 */
class RbacHttpFilterTest {
  @TempDir Path dir;
  TestUpstream upstream;
  ProxyFixture proxy;

  static final String RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
  static final String PER_ROUTE =
      "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";

  @BeforeEach
  void start() throws Exception {
    upstream = TestUpstream.echo("up");
    String routes =
        """
        - name: all
          domains: ["*"]
          response_headers_to_add: [{header: {key: x-vhost, value: "yes"}}]
          routes:
          - match: {prefix: "/locked"}
            route: {cluster: up}
            typed_per_filter_config:
              allow-x:
                "@type": %2$s
                rbac: {rules: {action: ALLOW}}
          - match: {prefix: "/open"}
            route: {cluster: up}
            typed_per_filter_config:
              allow-x:
                "@type": %2$s
          - match: {prefix: "/"}
            route: {cluster: up}
        """
            .formatted(RBAC, PER_ROUTE);
    // Istio's order: the DENY filter first, then the ALLOW filter, both before the router.
    String filters =
        """
        - name: deny-bad-user
          typed_config:
            "@type": %1$s
            rules:
              action: DENY
              policies:
                ns[default]-policy[deny-bad]-rule[0]:
                  permissions: [{any: true}]
                  principals:
                  - and_ids:
                      ids:
                      - or_ids:
                          ids: [{header: {name: x-user, string_match: {exact: mallory}}}]
        - name: allow-x
          typed_config:
            "@type": %1$s
            shadow_rules_stat_prefix: istio_dry_run_allow_
            shadow_rules:
              action: DENY
              policies:
                dry-run-deny-all:
                  permissions: [{any: true}]
                  principals: [{any: true}]
            rules:
              action: ALLOW
              policies:
                ns[default]-policy[get-x]-rule[0]:
                  permissions:
                  - and_rules:
                      rules:
                      - or_rules:
                          rules: [{header: {name: ":method", string_match: {exact: GET}}}]
                      - or_rules:
                          rules: [{url_path: {path: {exact: /x}}}]
                  principals: [{any: true}]
        """
            .formatted(RBAC);
    proxy =
        new ProxyFixture(
            withAccessLog(
                Bootstraps.http(routes, Bootstraps.cluster("up", upstream.port()), filters)));
  }

  /** The test bootstrap with a file access log of status and response code details. */
  private String withAccessLog(String yaml) {
    String log =
        """
        access_log:
        - name: envoy.access_loggers.file
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
            path: %s
            log_format: {text_format_source: {inline_string: "%%REQ(:METHOD)%% %%REQ(:PATH)%% %%RESPONSE_CODE%% %%RESPONSE_CODE_DETAILS%%\\n"}}
        """
            .formatted(dir.resolve("access.log"));
    int from = yaml.indexOf("          access_log:");
    int to = yaml.indexOf("          route_config:");
    return yaml.substring(0, from) + log.indent(10) + yaml.substring(to);
  }

  private List<String> logLines(int atLeast) throws Exception {
    Path file = dir.resolve("access.log");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while ((!Files.exists(file) || Files.readAllLines(file).size() < atLeast)
        && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    return Files.readAllLines(file);
  }

  @AfterEach
  void stop() {
    proxy.close();
    upstream.close();
  }

  private HttpResponse<String> send(String method, String path, String... headers)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port("http") + path))
            .method(method, HttpRequest.BodyPublishers.noBody());
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return proxy.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void anAllowPolicyLetsItsRequestsThroughAndDeniesTheRest() throws Exception {
    HttpResponse<String> get = send("GET", "/x");
    assertThat(get.statusCode()).isEqualTo(200);
    assertThat(get.body()).startsWith("up GET /x");

    HttpResponse<String> post = send("POST", "/x");
    assertThat(post.statusCode()).isEqualTo(403);
    assertThat(post.body()).isEqualTo("RBAC: access denied");
    // A local reply: the route's response headers apply, the upstream never saw it.
    assertThat(post.headers().firstValue("x-vhost")).hasValue("yes");
    assertThat(send("GET", "/y").statusCode()).isEqualTo(403);
    assertThat(upstream.requests.get()).isEqualTo(1);

    assertThat(logLines(3))
        .containsExactly(
            "GET /x 200 via_upstream",
            "POST /x 403 rbac_access_denied_matched_policy[none]",
            "GET /y 403 rbac_access_denied_matched_policy[none]");
    assertThat(proxy.stat("http.test.rbac.allowed"))
        .isEqualTo(1 + 3); // the DENY filter allowed all three
    assertThat(proxy.stat("http.test.rbac.denied")).isEqualTo(2);
  }

  @Test
  void aDenyPolicyWinsOverAnAllowPolicy() throws Exception {
    HttpResponse<String> r = send("GET", "/x", "x-user", "mallory");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(r.body()).isEqualTo("RBAC: access denied");
    assertThat(send("GET", "/x", "x-user", "alice").statusCode()).isEqualTo(200);
    assertThat(logLines(2))
        .containsExactly(
            "GET /x 403 rbac_access_denied_matched_policy[ns[default]-policy[deny-bad]-rule[0]]",
            "GET /x 200 via_upstream");
    assertThat(upstream.requests.get()).isEqualTo(1);
  }

  @Test
  void rulesWithoutPoliciesUnderAllowDenyEverythingAndAnEmptyPerRouteConfigDisablesTheFilter()
      throws Exception {
    assertThat(send("GET", "/locked").statusCode()).isEqualTo(403);
    assertThat(send("GET", "/x").statusCode()).isEqualTo(200); // the filter's own rules elsewhere
    // RBACPerRoute without rbac: no rules on this route, any method and path go through.
    assertThat(send("DELETE", "/open/anything").statusCode()).isEqualTo(200);
    // The DENY filter before it still applies there.
    assertThat(send("GET", "/open", "x-user", "mallory").statusCode()).isEqualTo(403);
  }

  @Test
  void shadowRulesAreCountedButNeverEnforced() throws Exception {
    assertThat(send("GET", "/x").statusCode()).isEqualTo(200);
    assertThat(send("POST", "/x").statusCode()).isEqualTo(403);
    // Istio's dry-run prefix on the shadow counters; the shadow DENY-all denied both, enforcing
    // neither.
    assertThat(proxy.stat("http.test.rbac.istio_dry_run_allow_shadow_denied")).isEqualTo(2);
    assertThat(proxy.stat("http.test.rbac.istio_dry_run_allow_shadow_allowed")).isZero();
  }
}
