package dev.mesh.certs;

import dev.mesh.security.Pem;
import dev.mesh.security.WorkloadKeys;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
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
    return WorkloadKeys.ecdsaP256();
  }

  /**
   * The CA of a certificate and its key, both PEM (a stored root, or a plug-in intermediate). The
   * key must be the certificate's: a mismatch is refused, naming neither.
   */
  public static CertificateAuthority load(String certificatePem, String keyPem) {
    X509Certificate cert = Pem.certificate(certificatePem);
    PrivateKey key = Pem.privateKey(keyPem);
    if (cert.getBasicConstraints() < 0) {
      throw new IllegalArgumentException(
          "the CA certificate "
              + cert.getSubjectX500Principal()
              + " is not a CA (basicConstraints)");
    }
    try {
      byte[] probe = "mesh-ca-key-check".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      var signer = java.security.Signature.getInstance(WorkloadKeys.signatureAlgorithm(key));
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      var verifier = java.security.Signature.getInstance(WorkloadKeys.signatureAlgorithm(key));
      verifier.initVerify(cert.getPublicKey());
      verifier.update(probe);
      if (!verifier.verify(signature)) {
        throw new IllegalArgumentException(
            "the CA key does not match the CA certificate " + cert.getSubjectX500Principal());
      }
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "the CA key does not match the CA certificate "
              + cert.getSubjectX500Principal()
              + ": "
              + e.getMessage(),
          e);
    }
    return new CertificateAuthority(new KeyPair(cert.getPublicKey(), key), cert);
  }

  /** The CA's private key, PEM (PKCS#8): for its own Secret only, never for a log. */
  public String keyPem() {
    return pem(keys.getPrivate());
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
    KeyPair leaf = newKeys();
    return new Issued(
        sign(
            leaf.getPublic(),
            commonName,
            organizations,
            names,
            usage,
            validity,
            Duration.ofMinutes(5)),
        leaf.getPrivate());
  }

  /**
   * A certificate for {@code publicKey} (whose private key the caller holds, as a CSR proves), as
   * {@link #issue} makes one; a null or empty {@code commonName} and no organizations give an empty
   * subject, as Istio's workload certificates have, and then the names are critical (RFC 5280).
   * {@code backdate} is how long before now it is already valid, for clocks that lag.
   */
  public X509Certificate sign(
      java.security.PublicKey publicKey,
      String commonName,
      List<String> organizations,
      List<String> names,
      Usage usage,
      Duration validity,
      Duration backdate) {
    try {
      Instant now = Instant.now();
      X500NameBuilder subject = new X500NameBuilder(BCStyle.INSTANCE);
      for (String o : organizations) {
        subject.addRDN(BCStyle.O, o);
      }
      boolean emptySubject =
          (commonName == null || commonName.isEmpty()) && organizations.isEmpty();
      if (commonName != null && !commonName.isEmpty()) {
        subject.addRDN(BCStyle.CN, commonName);
      }
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              certificate,
              serial(),
              Date.from(now.minus(backdate)),
              Date.from(now.plus(validity)),
              subject.build(),
              publicKey);
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      int keyUsage = KeyUsage.digitalSignature;
      if ("RSA".equals(publicKey.getAlgorithm())) {
        keyUsage |= KeyUsage.keyEncipherment;
      }
      b.addExtension(Extension.keyUsage, true, new KeyUsage(keyUsage));
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
        b.addExtension(Extension.subjectAlternativeName, emptySubject, new GeneralNames(sans));
      }
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      b.addExtension(
          Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
      return sign(b, keys.getPrivate());
    } catch (GeneralSecurityException | OperatorCreationException | IOException e) {
      throw new IllegalStateException(
          "cannot sign a certificate for " + names + ": " + e.getMessage(), e);
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
        .getCertificate(
            b.build(new JcaContentSignerBuilder(WorkloadKeys.signatureAlgorithm(key)).build(key)));
  }

  /** PEM of a certificate, a private key (PKCS#8) or a public key. */
  public static String pem(Object o) {
    return Pem.write(o);
  }
}
