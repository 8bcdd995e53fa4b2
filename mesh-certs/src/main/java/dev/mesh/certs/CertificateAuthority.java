package dev.mesh.certs;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A self-signed CA that issues certificates: serving certificates with DNS and IP names, client
 * certificates whose subject carries a user (CN) and groups (O), as Kubernetes reads them, and
 * certificates with URI names (SPIFFE). Keys are ECDSA P-256.
 */
public final class CertificateAuthority {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final KeyPair keys;
  private final X509Certificate certificate;

  private CertificateAuthority(KeyPair keys, X509Certificate certificate) {
    this.keys = keys;
    this.certificate = certificate;
  }

  /** A certificate and its key. */
  public record Issued(X509Certificate certificate, PrivateKey key) {
    public String certificatePem() {
      return pem(certificate);
    }

    public String keyPem() {
      return pem(key);
    }

    /** Writes {@code <name>.crt} and {@code <name>.key} (the key readable by its owner only). */
    public void write(Path dir, String name) {
      try {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(name + ".crt"), certificatePem());
        Path key = dir.resolve(name + ".key");
        Files.writeString(key, keyPem());
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + name + " to " + dir, e);
      }
    }
  }

  /** What a certificate is for: the extended key usages it carries. */
  public enum Usage {
    SERVER,
    CLIENT,
    SERVER_AND_CLIENT
  }

  /** A new root named {@code commonName}, valid for {@code validity}. */
  public static CertificateAuthority create(String commonName, Duration validity) {
    try {
      KeyPair keys = newKeys();
      Instant now = Instant.now();
      var name = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, commonName).build();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              name,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(validity)),
              name,
              keys.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      b.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature));
      b.addExtension(
          Extension.subjectKeyIdentifier,
          false,
          new JcaX509ExtensionUtils().createSubjectKeyIdentifier(keys.getPublic()));
      return new CertificateAuthority(keys, sign(b, keys.getPrivate()));
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException("cannot make a CA: " + e.getMessage(), e);
    }
  }

  /** A fresh ECDSA P-256 key pair. */
  public static KeyPair newKeys() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(256);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no EC key generator: " + e.getMessage(), e);
    }
  }

  public X509Certificate certificate() {
    return certificate;
  }

  public String certificatePem() {
    return pem(certificate);
  }

  /** Writes the root as {@code <name>.crt} and {@code <name>.key}. */
  public void write(Path dir, String name) {
    new Issued(certificate, keys.getPrivate()).write(dir, name);
  }

  /**
   * A certificate for {@code commonName} with groups {@code organizations} (Kubernetes' user and
   * groups of a client certificate), and subject alternative names: each of {@code names} is an IP
   * address if it parses as one, a URI if it has a scheme, else a DNS name.
   */
  public Issued issue(
      String commonName,
      List<String> organizations,
      List<String> names,
      Usage usage,
      Duration validity) {
    try {
      KeyPair leaf = newKeys();
      Instant now = Instant.now();
      X500NameBuilder subject = new X500NameBuilder(BCStyle.INSTANCE);
      for (String o : organizations) {
        subject.addRDN(BCStyle.O, o);
      }
      subject.addRDN(BCStyle.CN, commonName);
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              certificate,
              serial(),
              Date.from(now.minus(Duration.ofMinutes(5))),
              Date.from(now.plus(validity)),
              subject.build(),
              leaf.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      List<KeyPurposeId> purposes = new ArrayList<>();
      if (usage != Usage.CLIENT) {
        purposes.add(KeyPurposeId.id_kp_serverAuth);
      }
      if (usage != Usage.SERVER) {
        purposes.add(KeyPurposeId.id_kp_clientAuth);
      }
      b.addExtension(
          Extension.extendedKeyUsage,
          false,
          new ExtendedKeyUsage(purposes.toArray(KeyPurposeId[]::new)));
      if (!names.isEmpty()) {
        GeneralName[] sans = new GeneralName[names.size()];
        for (int i = 0; i < names.size(); i++) {
          sans[i] = generalName(names.get(i));
        }
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans));
      }
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(
          Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
      return new Issued(sign(b, keys.getPrivate()), leaf.getPrivate());
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException(
          "cannot issue a certificate for " + commonName + ": " + e.getMessage(), e);
    }
  }

  private static GeneralName generalName(String name) {
    if (name.matches("[0-9.]+") || name.contains(":") && !name.contains("://")) {
      try {
        return new GeneralName(
            GeneralName.iPAddress,
            new org.bouncycastle.asn1.DEROctetString(InetAddress.getByName(name).getAddress()));
      } catch (java.net.UnknownHostException e) {
        throw new IllegalArgumentException("not an IP address: " + name, e);
      }
    }
    if (name.contains("://")) {
      return new GeneralName(GeneralName.uniformResourceIdentifier, name);
    }
    return new GeneralName(GeneralName.dNSName, name);
  }

  private static BigInteger serial() {
    return new BigInteger(63, RANDOM);
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key)
      throws OperatorCreationException, java.security.cert.CertificateException {
    return new JcaX509CertificateConverter()
        .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
  }

  /** PEM of a certificate, a private key (PKCS#8) or a public key. */
  public static String pem(Object o) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o instanceof PrivateKey k ? new JcaPKCS8Generator(k, null) : o);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }
}
