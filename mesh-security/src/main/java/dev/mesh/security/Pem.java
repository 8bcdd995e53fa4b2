package dev.mesh.security;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

/** PEM in and out: certificates, certificate chains, private keys (PKCS#8, SEC1 or PKCS#1). */
public final class Pem {
  private Pem() {}

  /**
   * PEM of a certificate, a private key (written as PKCS#8), a public key or a BouncyCastle object
   * (a CSR).
   */
  public static String write(Object o) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter w = new JcaPEMWriter(out)) {
      w.writeObject(o instanceof PrivateKey k ? new JcaPKCS8Generator(k, null) : o);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /** The certificates of a PEM text, in order (an empty text gives none). */
  public static List<X509Certificate> certificates(String pem) {
    if (pem == null || pem.isBlank()) {
      return List.of();
    }
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      List<X509Certificate> out = new ArrayList<>();
      for (var c :
          cf.generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.UTF_8)))) {
        out.add((X509Certificate) c);
      }
      return List.copyOf(out);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not PEM certificates: " + e.getMessage(), e);
    }
  }

  /** The one certificate of a PEM text. */
  public static X509Certificate certificate(String pem) {
    List<X509Certificate> all = certificates(pem);
    if (all.isEmpty()) {
      throw new IllegalArgumentException("no PEM certificate found");
    }
    return all.get(0);
  }

  /**
   * The private key of a PEM text: {@code PRIVATE KEY} (PKCS#8), {@code EC PRIVATE KEY} or {@code
   * RSA PRIVATE KEY}. The message of a failure never quotes the text.
   */
  public static PrivateKey privateKey(String pem) {
    try (PEMParser reader = new PEMParser(new StringReader(pem == null ? "" : pem))) {
      Object parsed = reader.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      if (parsed instanceof PrivateKeyInfo info) {
        return converter.getPrivateKey(info);
      }
      if (parsed instanceof PEMKeyPair pair) {
        return converter.getKeyPair(pair).getPrivate();
      }
      throw new IllegalArgumentException(
          "no PEM private key found (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)");
    } catch (IOException e) {
      throw new IllegalArgumentException("unreadable PEM private key", e);
    }
  }
}
