package dev.mesh.proxy.http.filter;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import java.util.function.Consumer;

/** What an encoder filter can do with its stream. */
public interface EncoderFilterCallbacks extends StreamFilterCallbacks {
  /** Resumes the encoder chain after this filter stopped it. */
  void continueEncoding();

  /** The response's headers, once they have reached this filter. */
  HttpResponse responseHeaders();

  /** What the chain has buffered of the response body at this filter, or null. */
  ByteBuf encodingBuffer();

  /**
   * Replaces the response with a local reply while its headers have not left the proxy (it goes
   * straight to the client, skipping the encoder filters, as in Envoy); else resets the stream.
   */
  void sendLocalReply(
      int status,
      String body,
      Consumer<HttpHeaders> modifyHeaders,
      Integer grpcStatus,
      String details);
}
