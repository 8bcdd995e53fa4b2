package dev.mesh.certs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.time.Duration;
import java.util.List;

/**
 * The webhook's TLS: a certificate from a mounted secret ({@code tls.crt}, {@code tls.key}, {@code
 * ca.crt}, as a Kubernetes TLS secret has them), or one made at start by a CA made with it, as
 * istiod does, for the service's DNS names. {@link #caBundle()} is what the API server must trust:
 * it goes into the webhook's configuration.
 */
public record WebhookCertificates(Path certificate, Path privateKey, String caBundle) {
  /** The DNS names a webhook served by a Service is called by, and localhost. */
  public static List<String> namesOf(String service, String namespace) {
    return List.of(
        service + "." + namespace + ".svc",
        service + "." + namespace + ".svc.cluster.local",
        service + "." + namespace,
        "localhost");
  }

  /** The certificate of a mounted secret directory. */
  public static WebhookCertificates fromDirectory(Path dir) {
    Path crt = dir.resolve("tls.crt");
    Path key = dir.resolve("tls.key");
    if (!Files.isReadable(crt) || !Files.isReadable(key)) {
      throw new IllegalArgumentException(
          "--tls-dir=" + dir + " must hold tls.crt and tls.key (a Kubernetes TLS secret)");
    }
    try {
      Path ca = dir.resolve("ca.crt");
      return new WebhookCertificates(crt, key, Files.readString(Files.isReadable(ca) ? ca : crt));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A new CA and a serving certificate for {@code names} (and 127.0.0.1), written to {@code dir}.
   */
  public static WebhookCertificates generate(Path dir, List<String> names) {
    CertificateAuthority ca =
        CertificateAuthority.create(names.get(0) + " CA", Duration.ofDays(3650));
    List<String> sans = new java.util.ArrayList<>(names);
    sans.add("127.0.0.1");
    CertificateAuthority.Issued server =
        ca.issue(
            names.get(0),
            List.of("mesh"),
            sans,
            CertificateAuthority.Usage.SERVER,
            Duration.ofDays(3650));
    try {
      Files.createDirectories(dir);
      Path crt = dir.resolve("tls.crt");
      Path key = dir.resolve("tls.key");
      Files.writeString(crt, server.certificatePem() + ca.certificatePem());
      Files.writeString(dir.resolve("ca.crt"), ca.certificatePem());
      Files.writeString(key, server.keyPem());
      Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
      return new WebhookCertificates(crt, key, ca.certificatePem());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the webhook's certificate to " + dir, e);
    }
  }

  /** A TLS server context serving this certificate (its chain as written) with its key. */
  public javax.net.ssl.SSLContext serverContext() {
    try {
      java.security.cert.CertificateFactory cf =
          java.security.cert.CertificateFactory.getInstance("X.509");
      java.security.cert.Certificate[] chain;
      try (var in = Files.newInputStream(certificate)) {
        chain = cf.generateCertificates(in).toArray(new java.security.cert.Certificate[0]);
      }
      PrivateKey key = dev.mesh.security.Pem.privateKey(Files.readString(privateKey));
      java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
      ks.load(null, null);
      ks.setKeyEntry("webhook", key, new char[0], chain);
      javax.net.ssl.KeyManagerFactory kmf =
          javax.net.ssl.KeyManagerFactory.getInstance(
              javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, new char[0]);
      javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
      ssl.init(kmf.getKeyManagers(), null, null);
      return ssl;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the webhook's certificate or key", e);
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("the webhook's certificate: " + e.getMessage(), e);
    }
  }
}
