package dev.mesh.proxy.tls;

import java.security.cert.Certificate;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;

/**
 * What a TLS connection's peer presented, as Envoy's Ssl::ConnectionInfo exposes it: the URI SANs
 * (a SPIFFE id in the mesh), the DNS SANs, the subject in RFC 2253 form, and the serial number in
 * lower-case hex (as Envoy's %DOWNSTREAM_PEER_SERIAL% and istioctl's secret table print it; empty
 * for none). A TLS connection whose peer sent no certificate has {@link #NONE}.
 */
public record PeerCertificate(
    List<String> uriSans, List<String> dnsSans, String subject, String serial) {
  public static final PeerCertificate NONE = new PeerCertificate(List.of(), List.of(), "", "");

  private static final int DNS_NAME = 2;
  private static final int URI = 6;

  /** The peer's leaf certificate of a finished handshake; NONE when it sent none. */
  public static PeerCertificate of(SSLSession session) {
    Certificate[] chain;
    try {
      chain = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      return NONE;
    }
    return chain.length > 0 && chain[0] instanceof X509Certificate x ? of(x) : NONE;
  }

  /** The certificate this side presented in a finished handshake; NONE when it sent none. */
  public static PeerCertificate local(SSLSession session) {
    Certificate[] chain = session.getLocalCertificates();
    return chain != null && chain.length > 0 && chain[0] instanceof X509Certificate x
        ? of(x)
        : NONE;
  }

  static PeerCertificate of(X509Certificate cert) {
    List<String> uris = new ArrayList<>(1);
    List<String> dns = new ArrayList<>(1);
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          int type = (Integer) san.get(0);
          if (type == URI) {
            uris.add((String) san.get(1));
          } else if (type == DNS_NAME) {
            dns.add((String) san.get(1));
          }
        }
      }
    } catch (CertificateParsingException e) {
      // A certificate whose SAN extension does not parse has no SANs to offer.
    }
    return new PeerCertificate(
        List.copyOf(uris),
        List.copyOf(dns),
        cert.getSubjectX500Principal().getName(X500Principal.RFC2253),
        cert.getSerialNumber().toString(16));
  }

  /** The URI SANs joined by commas, as %DOWNSTREAM_PEER_URI_SAN% prints them; null for none. */
  public String uriSan() {
    return uriSans.isEmpty() ? null : String.join(",", uriSans);
  }
}
