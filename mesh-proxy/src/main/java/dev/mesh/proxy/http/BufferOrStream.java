package dev.mesh.proxy.http;

import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * Gathers a message whose body is small and of known length into one FullHttpMessage, as
 * HttpObjectAggregator does, so that it can be retried and mirrored whole; any other message (a
 * body of unknown or large length, gRPC, server-sent events) passes through as headers followed by
 * body pieces, and streams. Envoy streams every body and keeps up to its buffer limit for retries;
 * deciding per message keeps the common small exchange on the cheaper path.
 */
final class BufferOrStream extends HttpObjectAggregator {
  /** Envoy's default per_connection_buffer_limit_bytes: the most a message buffers in the proxy. */
  static final int BUFFER_LIMIT = 1024 * 1024;

  private boolean streaming;

  BufferOrStream() {
    super(BUFFER_LIMIT);
  }

  @Override
  public boolean acceptInboundMessage(Object msg) throws Exception {
    if (msg instanceof HttpMessage m && !(msg instanceof FullHttpMessage)) {
      streaming = m.decoderResult().isSuccess() && streams(m);
    }
    if (streaming && (msg instanceof HttpMessage || msg instanceof HttpContent)) {
      if (msg instanceof LastHttpContent) {
        streaming = false;
      }
      return false;
    }
    return super.acceptInboundMessage(msg);
  }

  /** Whether a message's body streams rather than being gathered first. */
  static boolean streams(HttpMessage m) {
    String type = m.headers().get(HttpHeaderNames.CONTENT_TYPE, "");
    if (type.startsWith("application/grpc") || type.startsWith("text/event-stream")) {
      return true;
    }
    if (HttpUtil.isContentLengthSet(m)) {
      return HttpUtil.getContentLength(m, 0L) > BUFFER_LIMIT;
    }
    // With neither length nor chunking, a request has no body; a response runs until close.
    return !(m instanceof HttpRequest) || HttpUtil.isTransferEncodingChunked(m);
  }
}
