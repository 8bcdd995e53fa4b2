package dev.mesh.proxy.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;

/**
 * What the codec tells one stream (Envoy's RequestDecoder and StreamCallbacks). The ByteBuf of
 * decodeData stays the codec's: it is released after the call.
 */
public interface StreamDecoder {
  void decodeHeaders(HttpRequest headers, boolean endStream);

  void decodeData(ByteBuf data, boolean endStream);

  void decodeTrailers(HttpHeaders trailers);

  /** The stream ended before its response did: the client reset it or the connection closed. */
  void onReset();

  /** The response's last piece has been written out (or failed to be). */
  void onEncodeComplete(boolean success);

  void onAboveWriteBufferHighWatermark();

  void onBelowWriteBufferLowWatermark();
}
