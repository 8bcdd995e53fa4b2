package dev.mesh.pilot.security.authn;

import com.google.protobuf.Any;
import com.google.protobuf.BoolValue;
import dev.mesh.pilot.security.SdsSecrets;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsParameters;
import java.util.List;

/**
 * The server side of mutual TLS between sidecars, as Istio's sidecar terminates it: the workload's
 * SDS certificate, a client certificate required and checked against the mesh root, Istio's ciphers
 * and versions, and the ALPN a chain offers to its own protocol.
 */
public final class InboundTls {
  private InboundTls() {}

  /** What an Istio client offers over mutual TLS for HTTP it detected, by version. */
  public static final List<String> MTLS_HTTP_ALPNS =
      List.of("istio-http/1.0", "istio-http/1.1", "istio-h2");

  /** What an Istio client offers over mutual TLS for TCP (with metadata exchange). */
  public static final List<String> MTLS_TCP_ALPNS = List.of("istio-peer-exchange", "istio");

  /** Every ALPN an Istio client may offer over mutual TLS: a chain for sidecars only. */
  public static final List<String> ALL_MTLS_ALPNS =
      List.of("istio-peer-exchange", "istio", "istio-http/1.0", "istio-http/1.1", "istio-h2");

  /** What http_inspector reports for plaintext HTTP. */
  public static final List<String> PLAINTEXT_HTTP_ALPNS = List.of("http/1.0", "http/1.1", "h2c");

  public static final String TLS = "tls";
  public static final String RAW_BUFFER = "raw_buffer";

  private static final List<String> CIPHERS =
      List.of(
          "ECDHE-ECDSA-AES256-GCM-SHA384",
          "ECDHE-RSA-AES256-GCM-SHA384",
          "ECDHE-ECDSA-AES128-GCM-SHA256",
          "ECDHE-RSA-AES128-GCM-SHA256",
          "AES256-GCM-SHA384",
          "AES128-GCM-SHA256");

  /**
   * The transport socket of a chain that terminates mutual TLS. An HTTP chain negotiates h2 or
   * http/1.1 (never "istio", which would hide the protocol underneath); a TCP chain also answers
   * istio-peer-exchange so that TCP metadata exchange can run.
   */
  public static TransportSocket socket(boolean http) {
    CommonTlsContext.Builder common =
        SdsSecrets.common(List.of())
            .addAllAlpnProtocols(
                http ? List.of("h2", "http/1.1") : List.of("istio-peer-exchange", "h2", "http/1.1"))
            .setTlsParams(
                TlsParameters.newBuilder()
                    .addAllCipherSuites(CIPHERS)
                    .setTlsMinimumProtocolVersion(TlsParameters.TlsProtocol.TLSv1_2)
                    .setTlsMaximumProtocolVersion(TlsParameters.TlsProtocol.TLSv1_3));
    DownstreamTlsContext tls =
        DownstreamTlsContext.newBuilder()
            .setCommonTlsContext(common)
            .setRequireClientCertificate(BoolValue.of(true))
            .build();
    return TransportSocket.newBuilder()
        .setName("envoy.transport_sockets.tls")
        .setTypedConfig(Any.pack(tls))
        .build();
  }
}
