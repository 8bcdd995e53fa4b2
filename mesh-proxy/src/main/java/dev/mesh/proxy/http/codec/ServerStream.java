package dev.mesh.proxy.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;

/**
 * One downstream stream as its codec carries it (Envoy's ResponseEncoder): the connection manager
 * writes the response here, and the codec frames it for HTTP/1.1 or HTTP/2. A ByteBuf passed in
 * stays the caller's; the codec retains what it writes.
 */
public interface ServerStream {
  void encodeHeaders(HttpResponse headers, boolean endStream);

  void encodeData(ByteBuf data, boolean endStream);

  void encodeTrailers(HttpHeaders trailers);

  /** Ends the stream abruptly: RST_STREAM for HTTP/2, the connection closed for HTTP/1. */
  void reset();

  /** Stops (true) or resumes reading this stream's request body. Calls nest. */
  void readDisable(boolean disable);

  /** Whether the downstream takes more response data now. */
  boolean writable();

  boolean http2();

  /** The downstream TCP connection. */
  Channel connection();

  /** Asks the client to open no more streams (GOAWAY) or requests (Connection: close). */
  void goAway();
}
