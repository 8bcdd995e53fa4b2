package dev.mesh.pilot.security.authn;

/** How a workload port takes connections: Istio's PeerAuthentication modes, UNSET resolved. */
public enum MtlsMode {
  /** Plaintext only. */
  DISABLE,
  /** Mutual TLS from sidecars and plaintext from anyone else. */
  PERMISSIVE,
  /** Mutual TLS only. */
  STRICT
}
