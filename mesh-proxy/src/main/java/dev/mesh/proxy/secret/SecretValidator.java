package dev.mesh.proxy.secret;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.DataSources;
import dev.mesh.proxy.tls.Pem;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Checks a secret before it replaces the one in force, as Envoy does before it ACKs SDS: a
 * certificate chain and a PKCS#8 key that parse and belong together, or a trusted CA that parses.
 * The reason names the secret and what is wrong with it, never its contents.
 */
public final class SecretValidator {
  private SecretValidator() {}

  public static void validate(Secret secret) {
    String where = "secret '" + secret.getName() + "'";
    if (secret.getName().isEmpty()) {
      throw new ConfigRejectedException("a secret needs a name");
    }
    switch (secret.getTypeCase()) {
      case TLS_CERTIFICATE -> certificate(secret.getTlsCertificate(), where);
      case VALIDATION_CONTEXT -> {
        var vc = secret.getValidationContext();
        if (vc.hasTrustedCa()) {
          parse(
              () -> Pem.certificates(bytes(vc.getTrustedCa(), where + " trusted_ca")),
              where,
              "trusted_ca");
        }
      }
      default ->
          throw new ConfigRejectedException(
              where + ": needs tls_certificate or validation_context");
    }
  }

  private static void certificate(TlsCertificate cert, String where) {
    List<X509Certificate> chain =
        parse(
            () -> Pem.certificates(bytes(cert.getCertificateChain(), where + " certificate_chain")),
            where,
            "certificate_chain");
    PrivateKey key =
        parse(
            () -> Pem.privateKey(bytes(cert.getPrivateKey(), where + " private_key")),
            where,
            "private_key");
    if (!Pem.matches(key, chain.get(0))) {
      throw new ConfigRejectedException(
          where + ": the private key does not match the certificate's public key");
    }
  }

  private static byte[] bytes(DataSource source, String where) {
    if (source.getSpecifierCase() == DataSource.SpecifierCase.SPECIFIER_NOT_SET) {
      throw new IllegalArgumentException("is not set");
    }
    return DataSources.bytes(source, where);
  }

  private static <T> T parse(java.util.function.Supplier<T> parse, String where, String field) {
    try {
      return parse.get();
    } catch (IllegalArgumentException e) {
      throw new ConfigRejectedException(where + ": " + field + " " + e.getMessage(), e);
    }
  }
}
