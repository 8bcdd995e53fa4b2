package dev.mesh.proxy.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;

/**
 * What an upstream stream tells the request that owns it (Envoy's ResponseDecoder and
 * StreamCallbacks). The ByteBuf of decodeData is released after the call.
 */
public interface ResponseDecoder {
  void decodeHeaders(HttpResponse headers, boolean endStream);

  void decodeData(ByteBuf data, boolean endStream);

  void decodeTrailers(HttpHeaders trailers);

  /** The stream ended before its response did. */
  void onReset(UpstreamFailure failure);

  /** The upstream cannot take more request data. */
  void onAboveWriteBufferHighWatermark();

  void onBelowWriteBufferLowWatermark();
}
