package dev.mesh.proxy.upstream;

/** How a request for an upstream stream ends: with the stream, or with why there is none. */
public interface PoolCallbacks {
  void onPoolReady(UpstreamStream stream);

  void onPoolFailure(UpstreamFailure failure);
}
