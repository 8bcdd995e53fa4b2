package dev.mesh.certs;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

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
    try {
      KeyPairGenerator keys = KeyPairGenerator.getInstance("EC");
      keys.initialize(256);
      KeyPair caKeys = keys.generateKeyPair();
      KeyPair serverKeys = keys.generateKeyPair();
      Instant now = Instant.now();
      X500Name caName = new X500Name("O=mesh,CN=" + names.get(0) + " CA");
      X509v3CertificateBuilder ca =
          new JcaX509v3CertificateBuilder(
              caName,
              BigInteger.valueOf(now.toEpochMilli()),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(Duration.ofDays(3650))),
              caName,
              caKeys.getPublic());
      ca.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      ca.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      X509Certificate caCert = sign(ca, caKeys.getPrivate());
      X509v3CertificateBuilder server =
          new JcaX509v3CertificateBuilder(
              caName,
              BigInteger.valueOf(now.toEpochMilli() + 1),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(Duration.ofDays(3650))),
              new X500Name("O=mesh,CN=" + names.get(0)),
              serverKeys.getPublic());
      GeneralName[] sans = new GeneralName[names.size() + 1];
      for (int i = 0; i < names.size(); i++) {
        sans[i] = new GeneralName(GeneralName.dNSName, names.get(i));
      }
      sans[names.size()] = new GeneralName(GeneralName.iPAddress, "127.0.0.1");
      server.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
      server.addExtension(
          Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
      server.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      X509Certificate serverCert = sign(server, caKeys.getPrivate());

      Files.createDirectories(dir);
      Path crt = dir.resolve("tls.crt");
      Path key = dir.resolve("tls.key");
      Files.writeString(crt, pem(serverCert) + pem(caCert));
      Files.writeString(dir.resolve("ca.crt"), pem(caCert));
      Files.writeString(key, pem(serverKeys.getPrivate()));
      Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
      return new WebhookCertificates(crt, key, pem(caCert));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the webhook's certificate to " + dir, e);
    } catch (java.security.GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException(
          "cannot make the webhook's certificate: " + e.getMessage(), e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key)
      throws OperatorCreationException, java.security.cert.CertificateException {
    return new JcaX509CertificateConverter()
        .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
  }

  private static String pem(Object o) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o instanceof PrivateKey k ? new JcaPKCS8Generator(k, null) : o);
    }
    return out.toString();
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
      PrivateKey key;
      try (var reader =
          new org.bouncycastle.openssl.PEMParser(Files.newBufferedReader(privateKey))) {
        Object parsed = reader.readObject();
        var converter = new org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter();
        key =
            parsed instanceof org.bouncycastle.asn1.pkcs.PrivateKeyInfo info
                ? converter.getPrivateKey(info)
                : converter.getKeyPair((org.bouncycastle.openssl.PEMKeyPair) parsed).getPrivate();
      }
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
