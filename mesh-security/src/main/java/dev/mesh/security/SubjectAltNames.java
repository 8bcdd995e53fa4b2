package dev.mesh.security;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.List;

/** The subject alternative names of a certificate that carry a workload's identity. */
public final class SubjectAltNames {
  private SubjectAltNames() {}

  private static final int URI = 6; // GeneralName's tag for a URI (RFC 5280)

  /** The URI SANs, in the certificate's order: the SPIFFE id the CA gave. */
  public static List<String> uris(X509Certificate cert) {
    try {
      var sans = cert.getSubjectAlternativeNames();
      if (sans == null) {
        return List.of();
      }
      return sans.stream()
          .filter(s -> Integer.valueOf(URI).equals(s.get(0)))
          .map(s -> (String) s.get(1))
          .toList();
    } catch (CertificateParsingException e) {
      return List.of(); // a SAN extension that does not parse names no identity
    }
  }
}
