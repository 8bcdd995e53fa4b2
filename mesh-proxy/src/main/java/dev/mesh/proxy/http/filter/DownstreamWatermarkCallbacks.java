package dev.mesh.proxy.http.filter;

/** Told when the downstream cannot take more response data, and when it can again. */
public interface DownstreamWatermarkCallbacks {
  void onAboveWriteBufferHighWatermark();

  void onBelowWriteBufferLowWatermark();
}
