package dev.mesh.pilot.ca;

import dev.mesh.api.SpiffeId;
import dev.mesh.certs.CertificateAuthority;
import dev.mesh.security.Csr;
import dev.mesh.security.Pem;
import dev.mesh.security.WorkloadKeys;
import io.grpc.Status;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The mesh's signing CA: a signing certificate and key (the self-signed root, or a plug-in
 * intermediate from {@code cacerts}), the certificates between it and the root, and the root. Signs
 * workload certificates as Istio's CA does: the CSR gives only the public key; the one subject
 * alternative name is the caller's verified SPIFFE id.
 */
public final class MeshCa {
  /** Istio's defaults: DEFAULT_WORKLOAD_CERT_TTL and MAX_WORKLOAD_CERT_TTL. */
  public static final Duration DEFAULT_TTL = Duration.ofHours(24);

  public static final Duration MAX_TTL = Duration.ofDays(90);

  // Workload certificates are valid from a little before now, for peers whose clocks lag.
  private static final Duration BACKDATE = Duration.ofMinutes(1);

  private final CertificateAuthority signer;
  private final List<X509Certificate> intermediates;
  private final X509Certificate root;
  private final String source;

  /**
   * {@code intermediates}: the certificates from the signer (included when it is not the root) up
   * to, not including, the root. {@code source} says where it came from, for the log.
   */
  MeshCa(
      CertificateAuthority signer,
      List<X509Certificate> intermediates,
      X509Certificate root,
      String source) {
    this.signer = signer;
    this.intermediates = List.copyOf(intermediates);
    this.root = root;
    this.source = source;
  }

  public String rootPem() {
    return Pem.write(root);
  }

  public X509Certificate root() {
    return root;
  }

  /** Where the signing key came from: for the log (names a Secret, never its content). */
  public String source() {
    return source;
  }

  /**
   * The chain for a workload whose verified identity is {@code id}: leaf, the intermediates, the
   * root, one PEM certificate each. {@code ttlSeconds} 0 (or negative) is the default; above the
   * maximum is refused with Istio's message.
   */
  List<String> signWorkload(String csrPem, SpiffeId id, long ttlSeconds) throws CaError {
    PublicKey key;
    try {
      key = Csr.publicKey(csrPem);
    } catch (IllegalArgumentException e) {
      throw new CaError(Status.Code.INVALID_ARGUMENT, "CSR signing error (" + e.getMessage() + ")");
    }
    Duration requested = Duration.ofSeconds(ttlSeconds);
    if (requested.compareTo(MAX_TTL) > 0) {
      throw new CaError(
          Status.Code.INVALID_ARGUMENT,
          "CSR signing error (requested TTL "
              + GoDuration.format(requested)
              + " is greater than the max allowed TTL "
              + GoDuration.format(MAX_TTL)
              + ")");
    }
    Duration ttl = ttlSeconds <= 0 ? DEFAULT_TTL : requested;
    X509Certificate leaf =
        signer.sign(
            key,
            null,
            List.of(),
            List.of(id.toString()),
            CertificateAuthority.Usage.SERVER_AND_CLIENT,
            ttl,
            BACKDATE);
    return chain(leaf);
  }

  /** A serving certificate for pilot with DNS {@code names}: its key and chain (leaf first). */
  ServingCertificate serving(List<String> names, Duration validity) {
    KeyPair keys = WorkloadKeys.ecdsaP256();
    X509Certificate leaf =
        signer.sign(
            keys.getPublic(),
            names.get(0),
            List.of(),
            names,
            CertificateAuthority.Usage.SERVER_AND_CLIENT,
            validity,
            BACKDATE);
    List<X509Certificate> chain = new ArrayList<>();
    chain.add(leaf);
    chain.addAll(intermediates);
    return new ServingCertificate(keys.getPrivate(), List.copyOf(chain), root);
  }

  /** Pilot's own certificate: its key, its chain without the root, and the root it chains to. */
  record ServingCertificate(PrivateKey key, List<X509Certificate> chain, X509Certificate root) {
    @Override
    public String toString() {
      return "ServingCertificate[" + chain.get(0).getSubjectX500Principal() + "]"; // no key
    }
  }

  private List<String> chain(X509Certificate leaf) {
    List<String> out = new ArrayList<>();
    out.add(Pem.write(leaf));
    for (X509Certificate c : intermediates) {
      out.add(Pem.write(c));
    }
    out.add(Pem.write(root));
    return List.copyOf(out);
  }

  @Override
  public String toString() {
    return "MeshCa[" + source + ", root " + root.getSubjectX500Principal() + "]"; // no key
  }
}
