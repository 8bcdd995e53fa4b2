package dev.mesh.proxy.tls;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.secret.SecretManager;
import dev.mesh.proxy.secret.SecretProvider;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a CommonTlsContext's certificate and validation context come from: inline ({@code
 * tls_certificates}, {@code validation_context}), or SDS ({@code
 * tls_certificate_sds_secret_configs}, {@code validation_context_sds_secret_config}), or both at
 * once ({@code combined_validation_context}: the SDS context merged over the default one, as Envoy
 * merges them, so Istio's SAN matchers stay while its ROOTCA rotates).
 */
final class TlsSecrets {
  /** What a TLS context is built from now; either part may be absent (null). */
  record Material(TlsCertificate certificate, CertificateValidationContext validation) {}

  private final TlsCertificate staticCertificate;
  private final SecretProvider certificate;
  private final CertificateValidationContext staticValidation;
  private final SecretProvider validation;
  private final List<SecretProvider> providers;

  TlsSecrets(CommonTlsContext common, SecretManager secrets, String where) {
    int certs = common.getTlsCertificatesCount() + common.getTlsCertificateSdsSecretConfigsCount();
    if (certs > 1) {
      throw new ConfigRejectedException(where + ": at most one tls_certificate is supported");
    }
    staticCertificate = common.getTlsCertificatesCount() == 1 ? common.getTlsCertificates(0) : null;
    certificate =
        common.getTlsCertificateSdsSecretConfigsCount() == 1
            ? secrets.provider(common.getTlsCertificateSdsSecretConfigs(0), where)
            : null;
    switch (common.getValidationContextTypeCase()) {
      case VALIDATION_CONTEXT -> {
        staticValidation = common.getValidationContext();
        validation = null;
      }
      case VALIDATION_CONTEXT_SDS_SECRET_CONFIG -> {
        staticValidation = null;
        validation = secrets.provider(common.getValidationContextSdsSecretConfig(), where);
      }
      case COMBINED_VALIDATION_CONTEXT -> {
        var combined = common.getCombinedValidationContext();
        staticValidation = combined.getDefaultValidationContext();
        validation = secrets.provider(combined.getValidationContextSdsSecretConfig(), where);
      }
      default -> {
        staticValidation = null;
        validation = null;
      }
    }
    List<SecretProvider> all = new ArrayList<>(2);
    if (certificate != null) {
      all.add(certificate);
    }
    if (validation != null) {
      all.add(validation);
    }
    providers = List.copyOf(all);
  }

  /** Whether any part comes from SDS (so the context can change and may have to wait). */
  boolean dynamic() {
    return !providers.isEmpty();
  }

  /** Whether every SDS secret arrived or stopped being waited for. */
  boolean settled() {
    return providers.stream().allMatch(SecretProvider::settled);
  }

  /** Whether every SDS secret arrived: a context can be built. */
  boolean complete() {
    return providers.stream().allMatch(p -> p.current() != null);
  }

  void watch(Runnable onChange) {
    providers.forEach(p -> p.watch(onChange));
  }

  List<String> secretNames() {
    return providers.stream().map(SecretProvider::name).toList();
  }

  /** The certificate and validation context in force; call when {@link #complete()}. */
  Material material() {
    TlsCertificate cert = staticCertificate;
    if (certificate != null) {
      cert = certificate.current().getTlsCertificate();
    }
    CertificateValidationContext vc = staticValidation;
    if (validation != null) {
      Secret s = validation.current();
      CertificateValidationContext fromSds = s.getValidationContext();
      vc = vc == null ? fromSds : vc.toBuilder().mergeFrom(fromSds).build();
    }
    return new Material(cert, vc);
  }
}
