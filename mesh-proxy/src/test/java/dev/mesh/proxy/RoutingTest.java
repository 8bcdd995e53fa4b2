package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Each route feature changes what a client sees; each test fails if the field were ignored. */
class RoutingTest {
  TestUpstream a;
  TestUpstream b;
  ProxyFixture proxy;

  @BeforeEach
  void start() throws Exception {
    a = TestUpstream.echo("a");
    b = TestUpstream.echo("b");
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                """
                - name: exact
                  domains: ["api.example.com", "api.example.com:8080"]
                  routes:
                  - match: {prefix: "/"}
                    route: {cluster: b}
                - name: suffix
                  domains: ["*.example.com"]
                  routes:
                  - match: {prefix: "/"}
                    route: {cluster: a}
                    response_headers_to_add:
                    - header: {key: x-vhost, value: suffix}
                - name: prefix
                  domains: ["reviews.*"]
                  routes:
                  - match: {prefix: "/"}
                    route: {cluster: b}
                    response_headers_to_add:
                    - header: {key: x-vhost, value: prefix}
                - name: any
                  domains: ["*"]
                  request_headers_to_add:
                  - header: {key: x-from-vhost, value: "yes"}
                  routes:
                  - match:
                      prefix: "/hdr"
                      headers:
                      - name: end-user
                        string_match: {exact: jason}
                    route: {cluster: b}
                  - match: {prefix: "/hdr"}
                    route: {cluster: a}
                  - match:
                      prefix: "/method"
                      headers:
                      - name: ":method"
                        string_match: {exact: DELETE}
                    route: {cluster: b}
                  - match: {prefix: "/method"}
                    route: {cluster: a}
                  - match:
                      path: "/q"
                      query_parameters:
                      - name: canary
                        string_match: {exact: "true"}
                    route: {cluster: b}
                  - match: {safe_regex: {regex: "/items/[0-9]+"}}
                    route: {cluster: b}
                  - match: {prefix: "/weighted"}
                    route:
                      weighted_clusters:
                        clusters:
                        - {name: a, weight: 0}
                        - {name: b, weight: 100}
                  - match: {prefix: "/api/"}
                    route: {cluster: a, prefix_rewrite: "/v2/", host_rewrite_literal: backend.internal}
                    request_headers_to_add:
                    - header: {key: x-added, value: route}
                    request_headers_to_remove: ["x-secret"]
                    response_headers_to_remove: ["x-upstream"]
                  - match: {prefix: "/mirrored"}
                    route:
                      cluster: a
                      request_mirror_policies:
                      - cluster: b
                        runtime_fraction: {default_value: {numerator: 100}}
                  - match: {prefix: "/teapot"}
                    direct_response: {status: 418, body: {inline_string: "short and stout"}}
                  - match: {prefix: "/from-file"}
                    direct_response: {status: 200, body: {filename: "%s"}}
                  - match: {prefix: "/old"}
                    redirect: {path_redirect: "/new", response_code: FOUND}
                  - match: {prefix: "/"}
                    route: {cluster: a}
                """
                    .formatted(bodyFile()),
                Bootstraps.cluster("a", a.port()) + Bootstraps.cluster("b", b.port())));
  }

  static String bodyFile() throws java.io.IOException {
    java.nio.file.Path f = java.nio.file.Files.createTempFile("body", ".txt");
    f.toFile().deleteOnExit();
    java.nio.file.Files.writeString(f, "served from a file");
    return f.toString();
  }

  @AfterEach
  void stop() {
    proxy.close();
    a.close();
    b.close();
  }

  private String get(String host, String path, String... headers) throws Exception {
    StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n");
    for (String h : headers) {
      req.append(h).append("\r\n");
    }
    return RawHttp.exchange(proxy.port("http"), req.append("\r\n").toString());
  }

  @Test
  void virtualHostsAreChosenInEnvoysOrder() throws Exception {
    assertThat(get("api.example.com", "/")).contains("\r\n\r\nb GET /");
    assertThat(get("api.example.com:8080", "/")).contains("\r\n\r\nb GET /");
    assertThat(get("www.example.com", "/")).contains("x-vhost: suffix").contains("\r\n\r\na GET /");
    assertThat(get("reviews.default", "/")).contains("x-vhost: prefix").contains("\r\n\r\nb GET /");
    assertThat(get("other", "/")).contains("\r\n\r\na GET /");
  }

  @Test
  void headerQueryAndRegexMatchesPickTheirRoute() throws Exception {
    assertThat(get("x", "/hdr", "end-user: jason")).contains("\r\n\r\nb GET /hdr");
    assertThat(get("x", "/hdr", "end-user: mary")).contains("\r\n\r\na GET /hdr");
    assertThat(get("x", "/q?canary=true")).contains("\r\n\r\nb GET /q?canary=true");
    assertThat(get("x", "/q?canary=false")).contains("\r\n\r\na GET /q");
    assertThat(get("x", "/items/42")).contains("\r\n\r\nb GET /items/42");
    assertThat(get("x", "/items/abc")).contains("\r\n\r\na GET /items/abc");
  }

  @Test
  void theMethodPseudoHeaderMatchesTheRequestMethod() throws Exception {
    String delete =
        RawHttp.exchange(proxy.port("http"), "DELETE /method HTTP/1.1\r\nHost: x\r\n\r\n");
    assertThat(delete).contains("\r\n\r\nb DELETE /method");
    assertThat(get("x", "/method")).contains("\r\n\r\na GET /method");
  }

  @Test
  void weightedClustersFollowTheirWeights() throws Exception {
    for (int i = 0; i < 20; i++) {
      assertThat(get("x", "/weighted")).contains("\r\n\r\nb GET /weighted");
    }
  }

  @Test
  void rewritesAndHeaderMutationsReachTheUpstream() throws Exception {
    String r = get("x", "/api/users?id=1", "x-secret: s3cret");
    assertThat(r).contains("\r\n\r\na GET /v2/users?id=1");
    assertThat(r).contains("host: backend.internal");
    assertThat(r).contains("x-envoy-original-path: /api/users?id=1");
    assertThat(r).contains("x-added: route").contains("x-from-vhost: yes");
    assertThat(r).doesNotContain("x-secret");
    assertThat(r.substring(0, r.indexOf("\r\n\r\n")).toLowerCase()).doesNotContain("x-upstream");
  }

  @Test
  void aMirroredRequestReachesTheShadowClusterWhileTheClientGetsThePrimary() throws Exception {
    java.util.concurrent.BlockingQueue<String> shadowHosts =
        new java.util.concurrent.LinkedBlockingQueue<>();
    b.server.removeContext("/");
    b.server.createContext(
        "/",
        ex -> {
          shadowHosts.add(ex.getRequestHeaders().getFirst("Host") + " " + ex.getRequestURI());
          TestUpstream.reply(ex, 500, "shadow");
          ex.close();
        });
    assertThat(get("reviews:9080", "/mirrored")).contains("\r\n\r\na GET /mirrored");
    assertThat(shadowHosts.poll(10, java.util.concurrent.TimeUnit.SECONDS))
        .isEqualTo("reviews-shadow:9080 /mirrored");
  }

  @Test
  void directResponsesAndRedirectsAreAnsweredByTheProxy() throws Exception {
    assertThat(get("x", "/teapot")).startsWith("HTTP/1.1 418").endsWith("short and stout");
    assertThat(get("x", "/from-file")).endsWith("served from a file");
    String redirect = get("x", "/old?keep=1");
    assertThat(redirect).startsWith("HTTP/1.1 302").contains("location: http://x/new?keep=1");
    assertThat(a.requests.get() + b.requests.get()).isZero();
  }

  @Test
  void withIgnorePortInHostMatchingADomainWithoutPortServesEveryPort() throws Exception {
    // Without the option the port is part of the name: api.example.com:9999 falls to "*" (a).
    assertThat(get("api.example.com:9999", "/")).contains("\r\n\r\na GET /");
    try (ProxyFixture ignoring =
        new ProxyFixture(
            Bootstraps.http(
                """
                - name: reviews
                  domains: ["reviews", "[fd00::1]"]
                  routes:
                  - match: {prefix: "/"}
                    route: {cluster: b}
                - name: any
                  domains: ["*"]
                  routes:
                  - match: {prefix: "/"}
                    route: {cluster: a}
                """,
                Bootstraps.cluster("a", a.port()) + Bootstraps.cluster("b", b.port()),
                "",
                "ignore_port_in_host_matching: true"))) {
      for (String host : new String[] {"reviews", "reviews:9080", "[fd00::1]:80"}) {
        String answer =
            RawHttp.exchange(ignoring.port("http"), "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
        assertThat(answer).as(host).contains("\r\n\r\nb GET /");
      }
      assertThat(
              RawHttp.exchange(ignoring.port("http"), "GET / HTTP/1.1\r\nHost: other:9080\r\n\r\n"))
          .contains("\r\n\r\na GET /");
    }
  }
}
