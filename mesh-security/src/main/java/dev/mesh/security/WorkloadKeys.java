package dev.mesh.security;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.ECGenParameterSpec;

/**
 * Key pairs for workload and CA certificates: ECDSA on P-256 (the mesh's default: cheap handshakes)
 * or RSA (Istio's default, 2048 bits, as its WORKLOAD_RSA_KEY_SIZE says).
 */
public final class WorkloadKeys {
  /** Istio's default RSA key size. */
  public static final int DEFAULT_RSA_BITS = 2048;

  private WorkloadKeys() {}

  /** The algorithms a workload key can have. */
  public enum Algorithm {
    ECDSA_P256,
    RSA
  }

  /** A new ECDSA P-256 (secp256r1) key pair. */
  public static KeyPair ecdsaP256() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"));
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no ECDSA P-256 key generator: " + e.getMessage(), e);
    }
  }

  /** A new RSA key pair of {@code bits} bits (at least 2048). */
  public static KeyPair rsa(int bits) {
    if (bits < 2048) {
      throw new IllegalArgumentException("an RSA key needs at least 2048 bits, got " + bits);
    }
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
      g.initialize(bits);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no RSA key generator: " + e.getMessage(), e);
    }
  }

  /** A new key pair of {@code algorithm} (RSA with {@link #DEFAULT_RSA_BITS}). */
  public static KeyPair generate(Algorithm algorithm) {
    return algorithm == Algorithm.RSA ? rsa(DEFAULT_RSA_BITS) : ecdsaP256();
  }

  /** The JCA signature algorithm a key of this kind signs certificates and CSRs with. */
  public static String signatureAlgorithm(java.security.PrivateKey key) {
    return switch (key.getAlgorithm()) {
      case "EC", "ECDSA" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default ->
          throw new IllegalArgumentException(
              "cannot sign with a " + key.getAlgorithm() + " key (ECDSA or RSA only)");
    };
  }
}
