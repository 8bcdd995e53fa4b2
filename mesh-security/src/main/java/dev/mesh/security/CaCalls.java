package dev.mesh.security;

import dev.mesh.security.v1alpha1.IstioCertificateRequest;
import dev.mesh.security.v1alpha1.IstioCertificateServiceGrpc;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The client side of Istio's CA: one CreateCertificate call with the caller's service-account token
 * as {@code authorization: Bearer <token>}, as Istio's agent makes it.
 */
public final class CaCalls {
  /** The metadata key the CA reads the token from. */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private CaCalls() {}

  /**
   * Sends {@code csrPem} with {@code token} over {@code channel} (TLS to pilot's 15012) and returns
   * the chain, leaf first and root last. {@code ttl} null or zero asks for the CA's default. Throws
   * grpc's StatusRuntimeException with the CA's status (UNAUTHENTICATED, INVALID_ARGUMENT, ...).
   */
  public static List<String> createCertificate(
      Channel channel, String token, String csrPem, Duration ttl, Duration deadline) {
    Metadata headers = new Metadata();
    if (token != null) {
      headers.put(AUTHORIZATION, "Bearer " + token);
    }
    var request =
        IstioCertificateRequest.newBuilder()
            .setCsr(csrPem)
            .setValidityDuration(ttl == null ? 0 : ttl.toSeconds())
            .build();
    return IstioCertificateServiceGrpc.newBlockingStub(channel)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .createCertificate(request)
        .getCertChainList();
  }
}
