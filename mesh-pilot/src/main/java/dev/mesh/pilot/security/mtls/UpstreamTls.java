package dev.mesh.pilot.security.mtls;

import com.google.protobuf.Any;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.mesh.config.networking.DestinationRuleSpec.ClientTLSSettings;
import dev.mesh.pilot.security.SdsSecrets;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.util.ArrayList;
import java.util.List;

/**
 * The client side of TLS on an outbound cluster, as Istio's cluster_tls builds it: Istio's mutual
 * TLS (SDS certificate and root, the destination's SPIFFE identities, SNI {@code
 * outbound_.<port>_.<subset>_.<host>}, ALPN that tells the server's sidecar it is a sidecar); TLS
 * from files for SIMPLE and MUTUAL; and auto mTLS, which picks Istio's mutual TLS per endpoint by
 * its {@code tlsMode} metadata and plaintext for the others.
 */
public final class UpstreamTls {
  private UpstreamTls() {}

  /** The endpoint metadata key transport_socket_matches look at, and the value for sidecars. */
  public static final String MATCH_KEY = "envoy.transport_socket_match";

  public static final String TLS_MODE = "tlsMode";
  public static final String ISTIO = "istio";

  /** The pod label that says its sidecar takes Istio's mutual TLS. */
  public static final String TLS_MODE_LABEL = "security.istio.io/tlsMode";

  private static final String TLS_SOCKET = "envoy.transport_sockets.tls";

  /** Istio's SNI for a cluster: its port, subset (or nothing) and host. */
  public static String sni(int port, String subset, String host) {
    return "outbound_." + port + "_." + (subset == null ? "" : subset) + "_." + host;
  }

  /** Istio's mutual TLS to a destination with these identities (any mesh peer when none). */
  public static TransportSocket istioMutual(List<String> sans, String sni, boolean http2) {
    List<String> alpn = new ArrayList<>(List.of("istio-peer-exchange", "istio"));
    if (http2) {
      alpn.add("h2");
    }
    UpstreamTlsContext tls =
        UpstreamTlsContext.newBuilder()
            .setCommonTlsContext(SdsSecrets.common(sans).addAllAlpnProtocols(alpn))
            .setSni(sni)
            .build();
    return socket(tls);
  }

  /** SIMPLE or MUTUAL TLS as the DestinationRule spells it, with certificates from files. */
  public static TransportSocket fromRule(ClientTLSSettings rule, boolean http2) {
    CommonTlsContext.Builder common = CommonTlsContext.newBuilder();
    if (rule.mode == ClientTLSSettings.TLSmode.MUTUAL) {
      common.addTlsCertificates(
          TlsCertificate.newBuilder()
              .setCertificateChain(file(rule.clientCertificate))
              .setPrivateKey(file(rule.privateKey)));
    }
    boolean verify = !Boolean.TRUE.equals(rule.insecureSkipVerify);
    if (verify && (notBlank(rule.caCertificates) || rule.subjectAltNames != null)) {
      CertificateValidationContext.Builder v = CertificateValidationContext.newBuilder();
      if (notBlank(rule.caCertificates)) {
        v.setTrustedCa(file(rule.caCertificates));
      }
      if (rule.subjectAltNames != null) {
        for (String san : rule.subjectAltNames) {
          // Istio matches a rule's SANs of every type; the common ones are DNS names and URIs.
          for (var type :
              List.of(SubjectAltNameMatcher.SanType.DNS, SubjectAltNameMatcher.SanType.URI)) {
            v.addMatchTypedSubjectAltNames(
                SubjectAltNameMatcher.newBuilder()
                    .setSanType(type)
                    .setMatcher(StringMatcher.newBuilder().setExact(san)));
          }
        }
      }
      common.setValidationContext(v);
    }
    if (http2) {
      common.addAlpnProtocols("h2");
    }
    UpstreamTlsContext.Builder tls = UpstreamTlsContext.newBuilder().setCommonTlsContext(common);
    if (notBlank(rule.sni)) {
      tls.setSni(rule.sni);
    }
    return socket(tls.build());
  }

  /**
   * Auto mTLS: endpoints whose metadata says {@code tlsMode: istio} get Istio's mutual TLS, all
   * others plaintext, so that a client needs no DestinationRule to reach sidecars over mTLS and
   * still reaches workloads without one.
   */
  public static List<Cluster.TransportSocketMatch> autoMatches(TransportSocket istioMutual) {
    return List.of(
        Cluster.TransportSocketMatch.newBuilder()
            .setName("tlsMode-istio")
            .setMatch(
                Struct.newBuilder()
                    .putFields(TLS_MODE, Value.newBuilder().setStringValue(ISTIO).build()))
            .setTransportSocket(istioMutual)
            .build(),
        Cluster.TransportSocketMatch.newBuilder()
            .setName("tlsMode-disabled")
            .setMatch(Struct.getDefaultInstance())
            .setTransportSocket(
                TransportSocket.newBuilder()
                    .setName("envoy.transport_sockets.raw_buffer")
                    .setTypedConfig(Any.pack(RawBuffer.getDefaultInstance())))
            .build());
  }

  /** The metadata of an endpoint whose sidecar takes Istio's mutual TLS. */
  public static io.envoyproxy.envoy.config.core.v3.Metadata istioEndpoint() {
    return io.envoyproxy.envoy.config.core.v3.Metadata.newBuilder()
        .putFilterMetadata(
            MATCH_KEY,
            Struct.newBuilder()
                .putFields(TLS_MODE, Value.newBuilder().setStringValue(ISTIO).build())
                .build())
        .build();
  }

  private static TransportSocket socket(UpstreamTlsContext tls) {
    return TransportSocket.newBuilder().setName(TLS_SOCKET).setTypedConfig(Any.pack(tls)).build();
  }

  private static DataSource file(String path) {
    return DataSource.newBuilder().setFilename(path).build();
  }

  private static boolean notBlank(String s) {
    return s != null && !s.isBlank();
  }
}
