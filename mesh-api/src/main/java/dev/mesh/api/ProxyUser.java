package dev.mesh.api;

/**
 * The identity the proxy runs as. Capture rules exempt it, so the proxy's own upstream connections
 * are never redirected back into itself.
 */
public final class ProxyUser {
  private ProxyUser() {}

  public static final int UID = 1337;
  public static final int GID = 1337;

  /**
   * Source address the proxy uses when it hands an inbound connection to the app on the pod's IP,
   * as Istio 1.10 and later do; the capture rules exempt it so the connection is not captured
   * again.
   */
  public static final String INBOUND_PASSTHROUGH_SOURCE = "127.0.0.6";
}
