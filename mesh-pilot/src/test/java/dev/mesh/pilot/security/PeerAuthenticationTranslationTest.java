package dev.mesh.pilot.security;

import static dev.mesh.pilot.security.Translation.chains;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.pilot.xds.ProxyResources;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilter;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PeerAuthentications in Istio's precedence, turned into virtualInbound's chains as Istio lays them
 * out: STRICT TLS only, PERMISSIVE TLS and plaintext, DISABLE plaintext only.
 */
class PeerAuthenticationTranslationTest {
  @TempDir Path dir;

  static final String REVIEWS =
      Translation.workload(
          "reviews",
          "shop",
          "10.44.0.9",
          "bookinfo-reviews",
          "version: v1",
          "{name: http, port: 9080}, {name: tcp-metrics, port: 9100}");

  ProxyResources reviews(String policies) throws Exception {
    return Translation.of(dir, REVIEWS + policies, "10.44.0.9", "reviews-1", "shop");
  }

  static String pa(String ns, String name, String created, String spec) {
    return """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: %s, namespace: %s, creationTimestamp: "%s"}
        spec: %s
        ---
        """
        .formatted(name, ns, created, spec);
  }

  static List<String> transports(List<FilterChain> chains) {
    return chains.stream()
        .map(
            c ->
                c.getFilterChainMatch().getTransportProtocol()
                    + (c.hasTransportSocket() ? "+terminated" : "")
                    + c.getFilterChainMatch().getApplicationProtocolsList())
        .toList();
  }

  @Test
  void withNoPolicyAPortTakesMutualTlsFromSidecarsAndPlaintextFromOthers() throws Exception {
    ProxyResources r = reviews("");
    assertThat(transports(chains(r, 9080)))
        .containsExactly(
            "tls+terminated[istio-peer-exchange, istio, istio-http/1.0, istio-http/1.1, istio-h2]",
            "raw_buffer[]");
    assertThat(transports(chains(r, 9100)))
        .containsExactly(
            "tls+terminated[istio-peer-exchange, istio, istio-http/1.0, istio-http/1.1, istio-h2]",
            "raw_buffer[]",
            "tls[]");
    assertThat(
            Translation.listener(r, "virtualInbound").getListenerFiltersList().stream()
                .map(ListenerFilter::getName))
        .containsExactly(
            "envoy.filters.listener.original_dst", "envoy.filters.listener.tls_inspector");
  }

  @Test
  void aTlsChainRequiresTheClientsCertificateAndTakesTheSecretsOverSds() throws Exception {
    FilterChain http = chains(reviews(""), 9080).get(0);
    assertThat(http.getName()).isEqualTo("inbound|9080||-mtls");
    assertThat(http.getTransportSocket().getName()).isEqualTo("envoy.transport_sockets.tls");
    DownstreamTlsContext tls =
        http.getTransportSocket().getTypedConfig().unpack(DownstreamTlsContext.class);
    assertThat(tls.getRequireClientCertificate().getValue()).isTrue();
    var common = tls.getCommonTlsContext();
    assertThat(common.getAlpnProtocolsList()).containsExactly("h2", "http/1.1");
    assertThat(common.getTlsCertificateSdsSecretConfigs(0).getName()).isEqualTo("default");
    var root = common.getCombinedValidationContext().getValidationContextSdsSecretConfig();
    assertThat(root.getName()).isEqualTo("ROOTCA");
    assertThat(
            root.getSdsConfig()
                .getApiConfigSource()
                .getGrpcServices(0)
                .getEnvoyGrpc()
                .getClusterName())
        .isEqualTo("sds-grpc");
    assertThat(common.getTlsParams().getTlsMinimumProtocolVersion().name()).isEqualTo("TLSv1_2");
    DownstreamTlsContext tcp =
        chains(reviews(""), 9100)
            .get(0)
            .getTransportSocket()
            .getTypedConfig()
            .unpack(DownstreamTlsContext.class);
    assertThat(tcp.getCommonTlsContext().getAlpnProtocolsList())
        .containsExactly("istio-peer-exchange", "h2", "http/1.1");
  }

  @Test
  void aStrictRootNamespacePolicyLeavesOnlyTlsChainsEvenForOtherPorts() throws Exception {
    ProxyResources r =
        reviews(pa("mesh-system", "default", "2026-01-01T00:00:00Z", "{mtls: {mode: STRICT}}"));
    assertThat(transports(chains(r, 9080))).containsExactly("tls+terminated[]");
    assertThat(transports(chains(r, 9100))).containsExactly("tls+terminated[]");
    // Ports of no service are passed through over mutual TLS only as well.
    assertThat(
            transports(
                Translation.listener(r, "virtualInbound").getFilterChainsList().stream()
                    .filter(c -> c.getName().startsWith("InboundPassthroughCluster"))
                    .toList()))
        .containsExactly("tls+terminated[]");
  }

  @Test
  void theNamespacePolicyOverridesTheRootsAndDisableLeavesPlaintextOnly() throws Exception {
    ProxyResources r =
        reviews(
            pa("mesh-system", "default", "2026-01-01T00:00:00Z", "{mtls: {mode: STRICT}}")
                + pa("shop", "default", "2026-01-02T00:00:00Z", "{mtls: {mode: DISABLE}}"));
    assertThat(transports(chains(r, 9080))).containsExactly("raw_buffer[]");
    assertThat(transports(chains(r, 9100))).containsExactly("raw_buffer[]");
    assertThat(
            Translation.listener(r, "virtualInbound").getListenerFiltersList().stream()
                .map(ListenerFilter::getName))
        .doesNotContain("envoy.filters.listener.tls_inspector");
  }

  @Test
  void aWorkloadPolicyWinsAndItsPortsOverrideItWhileUnsetInheritsTheParent() throws Exception {
    ProxyResources r =
        reviews(
            pa("shop", "default", "2026-01-02T00:00:00Z", "{mtls: {mode: STRICT}}")
                + pa(
                    "shop",
                    "reviews",
                    "2026-01-03T00:00:00Z",
                    "{selector: {matchLabels: {app: reviews}}, mtls: {mode: UNSET},"
                        + " portLevelMtls: {'9100': {mode: DISABLE}}}")
                + pa(
                    "shop",
                    "others",
                    "2026-01-03T00:00:00Z",
                    "{selector: {matchLabels: {app: ratings}}, mtls: {mode: DISABLE}}"));
    assertThat(transports(chains(r, 9080))).containsExactly("tls+terminated[]");
    assertThat(transports(chains(r, 9100))).containsExactly("raw_buffer[]");
  }

  @Test
  void inOneScopeTheOldestPolicyWins() throws Exception {
    ProxyResources r =
        reviews(
            pa("shop", "newer", "2026-03-01T00:00:00Z", "{mtls: {mode: DISABLE}}")
                + pa("shop", "older", "2026-02-01T00:00:00Z", "{mtls: {mode: STRICT}}"));
    assertThat(transports(chains(r, 9080))).containsExactly("tls+terminated[]");
    ProxyResources tie =
        reviews(
            pa("shop", "b", "2026-02-01T00:00:00Z", "{mtls: {mode: DISABLE}}")
                + pa("shop", "a", "2026-02-01T00:00:00Z", "{mtls: {mode: STRICT}}"));
    assertThat(transports(chains(tie, 9080))).containsExactly("tls+terminated[]");
  }

  @Test
  void aSelectorInTheRootNamespaceAndAnotherNamespacesPolicyAreIgnored() throws Exception {
    ProxyResources r =
        reviews(
            pa(
                    "mesh-system",
                    "selecting",
                    "2026-01-01T00:00:00Z",
                    "{selector: {matchLabels: {app: reviews}}, mtls: {mode: DISABLE}}")
                + pa("other", "default", "2026-01-01T00:00:00Z", "{mtls: {mode: DISABLE}}"));
    assertThat(transports(chains(r, 9080))).hasSize(2); // PERMISSIVE, the default
  }

  @Test
  void withTlsOffPilotSendsPlaintextChainsOnly() throws Exception {
    ProxyResources r =
        Translation.of(
            dir,
            REVIEWS + pa("shop", "default", "2026-01-01T00:00:00Z", "{mtls: {mode: STRICT}}"),
            "10.44.0.9",
            "reviews-1",
            "shop",
            new SecuritySettings("cluster.local", "mesh-system", true, false));
    assertThat(transports(chains(r, 9080))).containsExactly("raw_buffer[]");
  }
}
