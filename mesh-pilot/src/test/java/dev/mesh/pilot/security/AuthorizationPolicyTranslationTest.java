package dev.mesh.pilot.security;

import static dev.mesh.pilot.security.Translation.chains;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import dev.mesh.config.IstioResources;
import dev.mesh.pilot.xds.ProxyResources;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * AuthorizationPolicies (Istio's builder testdata inputs) turned into the RBAC filters of the
 * workload's inbound chains and compared, whole, with Istio's golden outputs (under
 * src/test/resources/authz, each saying where it differs from Istio's file).
 */
class AuthorizationPolicyTranslationTest {
  @TempDir Path dir;

  static final String HTTPBIN =
      Translation.workload(
          "httpbin",
          "foo",
          "10.44.0.7",
          "httpbin",
          "version: v1",
          "{name: http, port: 9080}, {name: tcp-db, port: 9100}");

  ProxyResources httpbin(String policies) throws Exception {
    return Translation.of(dir, HTTPBIN + policies, "10.44.0.7", "httpbin-1", "foo");
  }

  static String resource(String name) throws Exception {
    try (var in = AuthorizationPolicyTranslationTest.class.getResourceAsStream("/authz/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static final JsonFormat.Parser JSON =
      JsonFormat.parser()
          .usingTypeRegistry(
              JsonFormat.TypeRegistry.newBuilder()
                  .add(io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.getDescriptor())
                  .add(io.envoyproxy.envoy.extensions.filters.network.rbac.v3.RBAC.getDescriptor())
                  .build());

  static List<HttpFilter> expectedHttp(String name) throws Exception {
    List<HttpFilter> out = new ArrayList<>();
    for (var node : nodes(name)) {
      HttpFilter.Builder b = HttpFilter.newBuilder();
      JSON.merge(node.toString(), b);
      out.add(b.build());
    }
    return out;
  }

  static List<Filter> expectedTcp(String name) throws Exception {
    List<Filter> out = new ArrayList<>();
    for (var node : nodes(name)) {
      Filter.Builder b = Filter.newBuilder();
      JSON.merge(node.toString(), b);
      out.add(b.build());
    }
    return out;
  }

  static List<tools.jackson.databind.JsonNode> nodes(String name) throws Exception {
    List<tools.jackson.databind.JsonNode> out = new ArrayList<>();
    for (var doc : IstioResources.readDocuments(resource(name))) {
      if (doc.isArray()) {
        doc.forEach(out::add);
      } else {
        out.add(doc);
      }
    }
    return out;
  }

  static HttpConnectionManager hcm(FilterChain chain) throws Exception {
    return chain.getFilters(0).getTypedConfig().unpack(HttpConnectionManager.class);
  }

  static List<HttpFilter> httpRbac(ProxyResources r) throws Exception {
    return hcm(chains(r, 9080).get(0)).getHttpFiltersList().stream()
        .filter(f -> f.getName().equals("envoy.filters.http.rbac"))
        .toList();
  }

  static List<Filter> tcpRbac(ProxyResources r) {
    return chains(r, 9100).get(0).getFiltersList().stream()
        .filter(f -> f.getName().equals("envoy.filters.network.rbac"))
        .toList();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"deny-and-allow", "allow-none", "allow-empty-rule", "full-rule"})
  void httpChainsGetIstiosRbacFilters(String test) throws Exception {
    ProxyResources r = httpbin(resource(test + "-in.yaml"));
    assertThat(httpRbac(r)).isEqualTo(expectedHttp(test + "-http.yaml"));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"allow-http-for-tcp", "deny-http-for-tcp"})
  void tcpChainsGetIstiosRbacFiltersWithoutHttpFields(String test) throws Exception {
    ProxyResources r = httpbin(resource(test + "-in.yaml"));
    assertThat(tcpRbac(r)).isEqualTo(expectedTcp(test + "-tcp.yaml"));
  }

  @Test
  void rbacRunsAfterMetadataExchangeOnHttpAndBeforeTcpProxyAndOnEveryChain() throws Exception {
    ProxyResources r = httpbin(resource("deny-and-allow-in.yaml"));
    for (FilterChain chain : chains(r, 9080)) {
      assertThat(hcm(chain).getHttpFiltersList().stream().map(HttpFilter::getName).toList())
          .containsSubsequence(
              "istio.metadata_exchange",
              "envoy.filters.http.rbac",
              "envoy.filters.http.rbac",
              "envoy.filters.http.router");
    }
    var passthrough =
        Translation.listener(r, "virtualInbound").getFilterChainsList().stream()
            .filter(c -> c.getName().startsWith("InboundPassthroughCluster"))
            .toList();
    assertThat(passthrough).isNotEmpty();
    for (FilterChain chain : concat(chains(r, 9100), passthrough)) {
      assertThat(chain.getFiltersList().stream().map(Filter::getName).toList())
          .containsExactly(
              "envoy.filters.network.rbac",
              "envoy.filters.network.rbac",
              "envoy.filters.network.tcp_proxy");
    }
  }

  static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  @Test
  void aPolicyAppliesByItsSelectorAndTheRootNamespacesToEveryWorkload() throws Exception {
    String others =
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: other-app, namespace: foo}
        spec:
          selector: {matchLabels: {app: ratings}}
          action: DENY
          rules: [{}]
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: other-namespace, namespace: bar}
        spec: {action: DENY, rules: [{}]}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: gateway-only, namespace: foo}
        spec:
          targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: gw}]
          action: DENY
          rules: [{}]
        """;
    assertThat(httpRbac(httpbin(others))).isEmpty();
    ProxyResources mesh =
        httpbin(
            others
                + """
                ---
                apiVersion: security.istio.io/v1
                kind: AuthorizationPolicy
                metadata: {name: audit-all, namespace: mesh-system}
                spec: {action: AUDIT, rules: [{}]}
                """);
    var audit =
        httpRbac(mesh)
            .get(0)
            .getTypedConfig()
            .unpack(io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.class);
    assertThat(audit.getRules().getAction().name()).isEqualTo("LOG");
    assertThat(audit.getRules().getPoliciesMap())
        .containsOnlyKeys("ns[mesh-system]-policy[audit-all]-rule[0]");
  }

  @Test
  void requestPrincipalsAreWarnedOncePerPolicyAndNeverMatch() throws Exception {
    var warnings = new LinkedBlockingQueue<String>();
    Logger logger = Logger.getLogger("dev.mesh.pilot.xds.Problems");
    Handler h =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            warnings.add(record.getMessage());
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    logger.addHandler(h);
    try {
      httpbin(
          """
          apiVersion: security.istio.io/v1
          kind: AuthorizationPolicy
          metadata: {name: jwt, namespace: foo}
          spec:
            rules:
            - from: [{source: {requestPrincipals: ["issuer/subject"]}}]
              when: [{key: request.auth.audiences, values: [app]}]
          """);
    } finally {
      logger.removeHandler(h);
    }
    assertThat(warnings.stream().filter(w -> w.contains("requestPrincipals")).toList())
        .hasSize(1)
        .allMatch(w -> w.startsWith("AuthorizationPolicy foo/jwt: "));
  }

  @Test
  void customPoliciesDenyWhatTheyMatchForWantOfAProvider() throws Exception {
    ProxyResources r =
        httpbin(
            """
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ext, namespace: foo}
            spec:
              action: CUSTOM
              provider: {name: my-authz}
              rules: [{to: [{operation: {paths: [/admin]}}]}]
            """);
    var rbac =
        httpRbac(r)
            .get(0)
            .getTypedConfig()
            .unpack(io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC.class);
    assertThat(rbac.getRules().getAction().name()).isEqualTo("DENY");
    assertThat(rbac.getRules().getPoliciesMap())
        .containsOnlyKeys(
            "istio-ext-authz-ns[foo]-policy[ext]-rule[0]-deny-due-to-bad-CUSTOM-action");
  }
}
