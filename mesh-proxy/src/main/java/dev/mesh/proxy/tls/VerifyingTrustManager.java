package dev.mesh.proxy.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The peer's chain checked against the trusted CA (the JDK's PKIX), then its leaf against the
 * subject alt name matchers, as Envoy's default certificate validator does both in the handshake: a
 * mismatch fails the handshake itself, so no request is ever written to a peer of the wrong
 * identity. Host names are not checked: identity is the SAN matchers' business, as in Envoy.
 */
final class VerifyingTrustManager extends X509ExtendedTrustManager {
  static final String SAN_MISMATCH = "CERTIFICATE_VERIFY_FAILED: verify SAN list";

  private final X509ExtendedTrustManager ca;
  private final SanMatcher sans;

  VerifyingTrustManager(X509ExtendedTrustManager ca, SanMatcher sans) {
    this.ca = ca;
    this.sans = sans;
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    ca.checkClientTrusted(chain, authType, engine);
    checkSans(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    ca.checkServerTrusted(chain, authType, engine);
    checkSans(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    ca.checkClientTrusted(chain, authType, socket);
    checkSans(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    ca.checkServerTrusted(chain, authType, socket);
    checkSans(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    ca.checkClientTrusted(chain, authType);
    checkSans(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    ca.checkServerTrusted(chain, authType);
    checkSans(chain);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return ca.getAcceptedIssuers();
  }

  private void checkSans(X509Certificate[] chain) throws CertificateException {
    if (chain.length == 0 || !sans.matches(chain[0])) {
      throw new CertificateException(SAN_MISMATCH);
    }
  }
}
