package dev.mesh.agent.identity;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;

/**
 * One certificate of the workload, with the key it was made for (kept in memory only, as Istio's
 * agent does unless told to write it): the chain as the CA returned it, leaf first.
 */
public record WorkloadCertificate(
    PrivateKey key, String keyPem, List<String> chainPem, X509Certificate leaf, Instant received) {

  /** The chain as one PEM text, leaf first: Envoy's certificate_chain. */
  public String chain() {
    StringBuilder b = new StringBuilder();
    for (String c : chainPem) {
      b.append(c.strip()).append('\n');
    }
    return b.toString();
  }

  public Instant expires() {
    return leaf.getNotAfter().toInstant();
  }

  /** The leaf's URI subject alternative names: the SPIFFE id the CA gave. */
  public List<String> uris() {
    return dev.mesh.security.SubjectAltNames.uris(leaf);
  }
}
