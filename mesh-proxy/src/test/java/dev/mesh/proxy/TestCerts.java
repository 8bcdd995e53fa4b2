package dev.mesh.proxy;

import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A self-signed certificate and key made with the JDK's keytool, as PEM files for Envoy configs and
 * as a PKCS#12 store for Java clients and servers.
 */
final class TestCerts {
  final Path cert;
  final Path key;
  final Path p12;
  private final KeyStore store;

  private TestCerts(Path cert, Path key, Path p12, KeyStore store) {
    this.cert = cert;
    this.key = key;
    this.p12 = p12;
    this.store = store;
  }

  static TestCerts create(Path dir, String name) throws Exception {
    return create(dir, name, "dns:localhost,ip:127.0.0.1");
  }

  /** With these subject alternative names, in keytool's form ({@code uri:spiffe://...,dns:x}). */
  static TestCerts create(Path dir, String name, String sans) throws Exception {
    Path p12 = dir.resolve(name + ".p12");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process p =
        new ProcessBuilder(
                keytool,
                "-genkeypair",
                "-alias",
                name,
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-dname",
                "CN=" + name,
                "-ext",
                "SAN=" + sans,
                "-validity",
                "2",
                "-keystore",
                p12.toString(),
                "-storetype",
                "PKCS12",
                "-storepass",
                "changeit")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("keytool failed: " + out);
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (FileInputStream in = new FileInputStream(p12.toFile())) {
      ks.load(in, "changeit".toCharArray());
    }
    PrivateKey privateKey = (PrivateKey) ks.getKey(name, "changeit".toCharArray());
    Certificate certificate = ks.getCertificate(name);
    Path cert = dir.resolve(name + ".pem");
    Path key = dir.resolve(name + ".key");
    Files.writeString(cert, pem("CERTIFICATE", certificate.getEncoded()));
    Files.writeString(key, pem("PRIVATE KEY", privateKey.getEncoded()));
    return new TestCerts(cert, key, p12, ks);
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  /**
   * A client or server context: this certificate as identity (if asked), trusting {@code trusted}.
   */
  SSLContext sslContext(boolean withIdentity, TestCerts trusted) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry(
        "trusted", trusted.store.getCertificate(trusted.store.aliases().nextElement()));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    if (withIdentity) {
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(store, "changeit".toCharArray());
      ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    } else {
      ctx.init(null, tmf.getTrustManagers(), null);
    }
    return ctx;
  }
}
