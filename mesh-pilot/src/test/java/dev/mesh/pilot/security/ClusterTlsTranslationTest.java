package dev.mesh.pilot.security;

import static dev.mesh.pilot.security.Translation.cluster;
import static dev.mesh.pilot.security.Translation.endpoints;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.pilot.xds.ProxyResources;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outbound clusters' TLS as Istio's cluster_tls makes it: auto mTLS by endpoint metadata, the
 * DestinationRule's tls modes with port-level and subset overrides, no auto mTLS to a namespace
 * that disables it.
 */
class ClusterTlsTranslationTest {
  @TempDir Path dir;

  static final String CLUSTER = "outbound|9080||reviews.shop.svc.cluster.local";

  static final String MESH =
      Translation.workload(
              "reviews",
              "shop",
              "10.44.0.9",
              "bookinfo-reviews",
              "version: v1, security.istio.io/tlsMode: istio",
              "{name: http, port: 9080}, {name: grpc, port: 9090}")
          + Translation.workload(
              "legacy", "shop", "10.44.0.10", "legacy", "", "{name: http, port: 8080}");

  ProxyResources client(String extra) throws Exception {
    return Translation.of(dir, MESH + extra, "10.44.0.2", "client-1", "shop");
  }

  static UpstreamTlsContext tls(io.envoyproxy.envoy.config.core.v3.TransportSocket socket)
      throws Exception {
    return socket.getTypedConfig().unpack(UpstreamTlsContext.class);
  }

  static String rule(String spec) {
    return """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: shop}
        spec:
        %s
        ---
        """
        .formatted(spec.strip().startsWith("{") ? "  " + spec : spec.indent(2).stripTrailing());
  }

  @Test
  void autoMtlsGivesSidecarsIstiosMutualTlsAndOthersPlaintext() throws Exception {
    ProxyResources r = client("");
    Cluster c = cluster(r, CLUSTER);
    assertThat(c.hasTransportSocket()).isFalse();
    assertThat(c.getTransportSocketMatchesList())
        .extracting(Cluster.TransportSocketMatch::getName)
        .containsExactly("tlsMode-istio", "tlsMode-disabled");
    var istio = c.getTransportSocketMatches(0);
    assertThat(istio.getMatch().getFieldsOrThrow("tlsMode").getStringValue()).isEqualTo("istio");
    UpstreamTlsContext tls = tls(istio.getTransportSocket());
    assertThat(tls.getSni()).isEqualTo("outbound_.9080_._.reviews.shop.svc.cluster.local");
    var common = tls.getCommonTlsContext();
    assertThat(common.getAlpnProtocolsList()).containsExactly("istio-peer-exchange", "istio");
    assertThat(common.getTlsCertificateSdsSecretConfigs(0).getName()).isEqualTo("default");
    var validation = common.getCombinedValidationContext();
    assertThat(validation.getValidationContextSdsSecretConfig().getName()).isEqualTo("ROOTCA");
    assertThat(validation.getDefaultValidationContext().getMatchTypedSubjectAltNamesList())
        .extracting(m -> m.getSanType() + " " + m.getMatcher().getExact())
        .containsExactly("URI spiffe://cluster.local/ns/shop/sa/bookinfo-reviews");
    assertThat(c.getTransportSocketMatches(1).getMatch().getFieldsCount()).isZero();
    assertThat(c.getTransportSocketMatches(1).getTransportSocket().getName())
        .isEqualTo("envoy.transport_sockets.raw_buffer");
    // HTTP/2 upstreams also offer h2.
    UpstreamTlsContext grpc =
        tls(
            cluster(r, "outbound|9090||reviews.shop.svc.cluster.local")
                .getTransportSocketMatches(0)
                .getTransportSocket());
    assertThat(grpc.getCommonTlsContext().getAlpnProtocolsList())
        .containsExactly("istio-peer-exchange", "istio", "h2");
  }

  @Test
  void onlyEndpointsLabelledForIstiosMutualTlsCarryTheMatchMetadata() throws Exception {
    ProxyResources r = client("");
    var sidecar = endpoints(r, CLUSTER).getEndpoints(0).getLbEndpoints(0);
    assertThat(
            sidecar
                .getMetadata()
                .getFilterMetadataOrThrow("envoy.transport_socket_match")
                .getFieldsOrThrow("tlsMode")
                .getStringValue())
        .isEqualTo("istio");
    var legacy =
        endpoints(r, "outbound|8080||legacy.shop.svc.cluster.local")
            .getEndpoints(0)
            .getLbEndpoints(0);
    assertThat(legacy.hasMetadata()).isFalse();
  }

  @Test
  void aWorkloadPolicyDisablingMtlsOnItsPortTakesTheMetadataAway() throws Exception {
    ProxyResources r =
        client(
            """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: reviews, namespace: shop}
            spec:
              selector: {matchLabels: {app: reviews}}
              portLevelMtls: {"9080": {mode: DISABLE}}
            ---
            """);
    assertThat(endpoints(r, CLUSTER).getEndpoints(0).getLbEndpoints(0).hasMetadata()).isFalse();
  }

  @Test
  void noAutoMtlsToANamespaceThatDisablesIt() throws Exception {
    ProxyResources r =
        client(
            """
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: shop}
            spec: {mtls: {mode: DISABLE}}
            ---
            """);
    Cluster c = cluster(r, CLUSTER);
    assertThat(c.getTransportSocketMatchesCount()).isZero();
    assertThat(c.hasTransportSocket()).isFalse();
  }

  @Test
  void noAutoMtlsWhenMeshConfigTurnsItOff() throws Exception {
    ProxyResources r =
        Translation.of(
            dir,
            MESH,
            "10.44.0.2",
            "client-1",
            "shop",
            new SecuritySettings("cluster.local", "mesh-system", false, true));
    assertThat(cluster(r, CLUSTER).getTransportSocketMatchesCount()).isZero();
  }

  @Test
  void istioMutualIsAlwaysTlsWithTheRulesSubsetAndTheTrustDomain() throws Exception {
    ProxyResources r =
        Translation.of(
            dir,
            MESH
                + rule(
                    "{host: reviews, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}},"
                        + " subsets: [{name: v1, labels: {version: v1}}]}"),
            "10.44.0.2",
            "client-1",
            "shop",
            new SecuritySettings("example.org", "mesh-system", true, true));
    Cluster c = cluster(r, "outbound|9080|v1|reviews.shop.svc.cluster.local");
    assertThat(c.getTransportSocketMatchesCount()).isZero();
    UpstreamTlsContext tls = tls(c.getTransportSocket());
    assertThat(tls.getSni()).isEqualTo("outbound_.9080_.v1_.reviews.shop.svc.cluster.local");
    assertThat(
            tls.getCommonTlsContext()
                .getCombinedValidationContext()
                .getDefaultValidationContext()
                .getMatchTypedSubjectAltNames(0)
                .getMatcher()
                .getExact())
        .isEqualTo("spiffe://example.org/ns/shop/sa/bookinfo-reviews");
  }

  @Test
  void portLevelAndSubsetSettingsOverrideTheRulesTls() throws Exception {
    ProxyResources r =
        client(
            rule(
                """
                host: reviews.shop.svc.cluster.local
                trafficPolicy:
                  tls: {mode: DISABLE}
                  portLevelSettings:
                  - port: {number: 9090}
                    tls: {mode: SIMPLE, caCertificates: /etc/certs/ca.pem, sni: reviews.example}
                subsets:
                - name: v1
                  labels: {version: v1}
                  trafficPolicy:
                    tls:
                      mode: MUTUAL
                      clientCertificate: /etc/certs/cert.pem
                      privateKey: /etc/certs/key.pem
                      subjectAltNames: [reviews.example]
                """));
    Cluster plain = cluster(r, CLUSTER);
    assertThat(plain.hasTransportSocket()).isFalse();
    assertThat(plain.getTransportSocketMatchesCount()).isZero();
    UpstreamTlsContext simple =
        tls(cluster(r, "outbound|9090||reviews.shop.svc.cluster.local").getTransportSocket());
    assertThat(simple.getSni()).isEqualTo("reviews.example");
    assertThat(simple.getCommonTlsContext().getValidationContext().getTrustedCa().getFilename())
        .isEqualTo("/etc/certs/ca.pem");
    assertThat(simple.getCommonTlsContext().getTlsCertificatesCount()).isZero();
    assertThat(simple.getCommonTlsContext().getAlpnProtocolsList()).containsExactly("h2");
    UpstreamTlsContext mutual =
        tls(cluster(r, "outbound|9080|v1|reviews.shop.svc.cluster.local").getTransportSocket());
    var cert = mutual.getCommonTlsContext().getTlsCertificates(0);
    assertThat(cert.getCertificateChain().getFilename()).isEqualTo("/etc/certs/cert.pem");
    assertThat(cert.getPrivateKey().getFilename()).isEqualTo("/etc/certs/key.pem");
    assertThat(
            mutual.getCommonTlsContext().getValidationContext().getMatchTypedSubjectAltNamesList())
        .extracting(SubjectAltNameMatcher::getSanType)
        .contains(SubjectAltNameMatcher.SanType.DNS);
  }

  @Test
  void externalServicesGetNoAutoMtls() throws Exception {
    ProxyResources r =
        client(
            """
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: api, namespace: shop}
            spec:
              hosts: [api.example.com]
              location: MESH_EXTERNAL
              resolution: DNS
              ports: [{number: 443, name: tls, protocol: TLS}]
            ---
            """);
    assertThat(cluster(r, "outbound|443||api.example.com").getTransportSocketMatchesCount())
        .isZero();
  }
}
