package dev.mesh.agent.sds;

import com.google.protobuf.ByteString;
import dev.mesh.agent.identity.WorkloadCertificate;
import dev.mesh.agent.identity.WorkloadIdentity;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The secrets an SDS client can ask for at one moment, with their versions: Istio's {@code default}
 * (the workload's chain and key) and {@code ROOTCA} (the mesh's roots), each once it exists. A
 * version changes exactly when its secret does, which is what decides a push.
 */
record SecretSnapshot(Map<String, Secret> secrets, Map<String, String> versions) {
  static final String DEFAULT = "default";
  static final String ROOTCA = "ROOTCA";
  static final String TYPE_URL =
      "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

  static SecretSnapshot of(WorkloadIdentity identity) {
    Map<String, Secret> secrets = new LinkedHashMap<>();
    Map<String, String> versions = new LinkedHashMap<>();
    identity
        .certificate()
        .ifPresent(
            c -> {
              secrets.put(DEFAULT, workload(c));
              versions.put(DEFAULT, c.leaf().getSerialNumber().toString(16));
            });
    identity
        .rootPem()
        .ifPresent(
            pem -> {
              secrets.put(ROOTCA, roots(pem));
              versions.put(ROOTCA, digest(pem));
            });
    return new SecretSnapshot(Map.copyOf(secrets), Map.copyOf(versions));
  }

  private static Secret workload(WorkloadCertificate c) {
    return Secret.newBuilder()
        .setName(DEFAULT)
        .setTlsCertificate(
            TlsCertificate.newBuilder()
                .setCertificateChain(inline(c.chain()))
                .setPrivateKey(inline(c.keyPem())))
        .build();
  }

  private static Secret roots(String pem) {
    return Secret.newBuilder()
        .setName(ROOTCA)
        .setValidationContext(CertificateValidationContext.newBuilder().setTrustedCa(inline(pem)))
        .build();
  }

  private static DataSource inline(String pem) {
    return DataSource.newBuilder()
        .setInlineBytes(ByteString.copyFrom(pem, StandardCharsets.UTF_8))
        .build();
  }

  private static String digest(String pem) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(pem.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
