package dev.mesh.proxy.upstream;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;

/**
 * One request to an upstream host (Envoy's RequestEncoder): on an HTTP/1.1 connection of its own
 * for the time of the exchange, or on a stream of a shared HTTP/2 connection. A ByteBuf passed in
 * stays the caller's; what is written is retained.
 */
public interface UpstreamStream {
  void encodeHeaders(HttpRequest headers, boolean endStream);

  void encodeData(ByteBuf data, boolean endStream);

  void encodeTrailers(HttpHeaders trailers);

  /** Gives the exchange up: the HTTP/1 connection closes, the HTTP/2 stream is reset. */
  void reset();

  /** Stops (true) or resumes reading the response. */
  void readDisable(boolean disable);

  /** Whether the upstream takes more request data now. */
  boolean writable();

  /** The local address of the upstream connection, {@code ip:port}. */
  String localAddress();
}
