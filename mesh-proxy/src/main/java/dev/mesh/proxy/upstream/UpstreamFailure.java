package dev.mesh.proxy.upstream;

/** Why an exchange with an upstream failed, in Envoy's terms (they pick the response flag). */
public final class UpstreamFailure extends Exception {
  public enum Kind {
    CONNECT_FAILURE,
    CONNECT_TIMEOUT,
    /**
     * The connection or stream ended before the response did (Envoy's "connection termination").
     */
    RESET,
    /** A circuit breaker is full (Envoy's "overflow"). */
    OVERFLOW
  }

  private final Kind kind;

  public UpstreamFailure(Kind kind, String message) {
    super(message, null, false, false);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  /** A connection attempt that failed: timed out, or refused or unreachable. */
  static UpstreamFailure connecting(Throwable cause) {
    return new UpstreamFailure(
        cause instanceof io.netty.channel.ConnectTimeoutException
            ? Kind.CONNECT_TIMEOUT
            : Kind.CONNECT_FAILURE,
        String.valueOf(cause.getMessage()));
  }
}
