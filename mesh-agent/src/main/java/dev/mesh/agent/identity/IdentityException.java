package dev.mesh.agent.identity;

/**
 * An expected failure on the way to a certificate (no token, no root, the CA unreachable or
 * refusing): its message is the one log line, and the agent tries again.
 */
final class IdentityException extends RuntimeException {
  IdentityException(String message) {
    super(message, null, false, false);
  }
}
