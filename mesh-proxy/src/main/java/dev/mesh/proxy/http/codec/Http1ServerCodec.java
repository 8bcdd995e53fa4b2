package dev.mesh.proxy.http.codec;

import dev.mesh.proxy.network.FlushBatcher;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * The HTTP/1.1 server codec, after Netty's HttpServerCodec: each request becomes a stream of its
 * own, one at a time, so pipelined requests are answered in order (those read meanwhile wait here).
 * A request that ends with its head (no body) says so at once, as Envoy's codec does, so the rest
 * of the proxy can treat it as complete. The response is framed for HTTP/1: its version is the
 * request's, keep-alive or close, chunked when its length is unknown.
 */
public final class Http1ServerCodec extends ChannelInboundHandlerAdapter {
  // Reading stays on while requests wait, up to this many: toggling it per request would cost two
  // epoll_ctl system calls a request.
  private static final int MAX_PIPELINED = 16;

  private final ServerConnectionCallbacks callbacks;
  private final ArrayDeque<HttpObject> waiting = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  private FlushBatcher flusher;
  private Stream active;
  // The head of the active request, held until the next message of the same read tells whether
  // the request ends with it.
  private HttpRequest pendingHead;
  private boolean readDisabledByStream;
  private boolean readDisabledByQueue;

  public Http1ServerCodec(ServerConnectionCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.flusher = new FlushBatcher(ctx.channel());
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof HttpObject o)) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (active == null || active.requestDone) {
      if (active != null || !waiting.isEmpty()) {
        waiting.add(o);
        if (waiting.size() >= MAX_PIPELINED && !readDisabledByQueue) {
          readDisabledByQueue = true; // back-pressure on a client that runs ahead
          updateAutoRead();
        }
        return;
      }
    }
    dispatch(o);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    releasePendingHead(false);
    ctx.fireChannelReadComplete();
  }

  /** One message of the request in progress, or the head of the next one. */
  private void dispatch(HttpObject o) {
    if (o instanceof HttpRequest head) {
      if (active != null && !active.requestDone) {
        ReferenceCountUtil.release(o); // a new head inside a request: the decoder's own error
        return;
      }
      releasePendingHead(false);
      active = new Stream(head);
      active.decoder = callbacks.newStream(active);
      if (!head.decoderResult().isSuccess() || head instanceof LastHttpContent) {
        active.requestDone = true;
        active.decoder.decodeHeaders(head, true);
        ReferenceCountUtil.release(head);
        return;
      }
      pendingHead = head;
      return;
    }
    if (!(o instanceof HttpContent piece)) {
      ReferenceCountUtil.release(o);
      return;
    }
    try {
      Stream s = active;
      if (s == null || s.requestDone) {
        return; // the rest of a body whose stream already ended
      }
      boolean last = piece instanceof LastHttpContent;
      if (pendingHead != null) {
        boolean endsWithHead =
            last
                && !piece.content().isReadable()
                && ((LastHttpContent) piece).trailingHeaders().isEmpty();
        releasePendingHead(endsWithHead);
        if (endsWithHead) {
          return;
        }
      }
      if (s.requestDone || active != s) {
        return;
      }
      if (last) {
        s.requestDone = true;
        HttpHeaders trailers = ((LastHttpContent) piece).trailingHeaders();
        if (trailers.isEmpty()) {
          s.decoder.decodeData(piece.content(), true);
        } else {
          if (piece.content().isReadable()) {
            s.decoder.decodeData(piece.content(), false);
          }
          s.decoder.decodeTrailers(trailers);
        }
      } else {
        s.decoder.decodeData(piece.content(), false);
      }
    } finally {
      piece.release();
    }
  }

  private void releasePendingHead(boolean endStream) {
    HttpRequest head = pendingHead;
    if (head == null) {
      return;
    }
    pendingHead = null;
    Stream s = active;
    if (endStream) {
      s.requestDone = true;
    }
    s.decoder.decodeHeaders(head, endStream);
  }

  /** The active stream is done: the next waiting request starts, or reading goes on. */
  private void next() {
    active = null;
    while (!waiting.isEmpty() && (active == null || !active.requestDone)) {
      HttpObject o = waiting.poll();
      if (active == null && !(o instanceof HttpRequest)) {
        ReferenceCountUtil.release(o); // the tail of a body whose stream ended early
        continue;
      }
      dispatch(o);
      if (active == null) {
        continue;
      }
      if (active.requestDone || !waiting.isEmpty() && waiting.peek() instanceof HttpRequest) {
        break;
      }
    }
    releasePendingHead(waiting.isEmpty() ? false : endsNext());
    if (readDisabledByQueue && waiting.size() < MAX_PIPELINED) {
      readDisabledByQueue = false;
      updateAutoRead();
    }
  }

  /** Whether the waiting message after a held head is the empty end of a bodiless request. */
  private boolean endsNext() {
    HttpObject o = waiting.peek();
    if (o instanceof LastHttpContent last
        && !last.content().isReadable()
        && last.trailingHeaders().isEmpty()) {
      waiting.poll();
      last.release();
      return true;
    }
    return false;
  }

  private void updateAutoRead() {
    boolean read = !readDisabledByStream && !readDisabledByQueue;
    Channel ch = ctx.channel();
    if (ch.config().isAutoRead() != read) {
      ch.config().setAutoRead(read);
      if (read) {
        ch.read();
      }
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    Stream s = active;
    if (s != null && s.decoder != null) {
      if (ctx.channel().isWritable()) {
        s.decoder.onBelowWriteBufferLowWatermark();
      } else {
        s.decoder.onAboveWriteBufferHighWatermark();
      }
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    while (!waiting.isEmpty()) {
      ReferenceCountUtil.release(waiting.poll());
    }
    if (pendingHead != null) {
      pendingHead = null;
    }
    Stream s = active;
    active = null;
    if (s != null && !s.responseDone) {
      s.decoder.onReset();
    }
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close(); // a reset or broken downstream: nothing to answer
  }

  /** An upgrade has turned the connection into a relay: the stream that asked for it is over. */
  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    Stream s = active;
    active = null;
    while (!waiting.isEmpty()) {
      ReferenceCountUtil.release(waiting.poll());
    }
    if (s != null && !s.responseDone && ctx.channel().isActive()) {
      s.responseDone = true;
      s.decoder.onEncodeComplete(true);
    }
  }

  /** One request and its response on this connection. */
  private final class Stream implements ServerStream {
    final HttpVersion version;
    final boolean keepAlive;
    final boolean head;
    StreamDecoder decoder;
    boolean requestDone;
    boolean responseDone;
    boolean closeAfter;
    boolean chunked;
    int readDisables;

    Stream(HttpRequest head) {
      boolean ok = head.decoderResult().isSuccess();
      this.version =
          ok && head.protocolVersion().equals(HttpVersion.HTTP_1_0)
              ? HttpVersion.HTTP_1_0
              : HttpVersion.HTTP_1_1;
      this.keepAlive = ok && HttpUtil.isKeepAlive(head);
      this.head = ok && head.method().equals(io.netty.handler.codec.http.HttpMethod.HEAD);
    }

    @Override
    public void encodeHeaders(HttpResponse headers, boolean endStream) {
      if (responseDone) {
        return;
      }
      headers.setProtocolVersion(version);
      HttpHeaders h = headers.headers();
      closeAfter =
          !keepAlive
              || !ctx.channel().isActive()
              || h.containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE, true);
      int code = headers.status().code();
      boolean bodiless = head || code < 200 || code == 204 || code == 304;
      if (endStream && !bodiless && !HttpUtil.isContentLengthSet(headers)) {
        h.setInt(
            HttpHeaderNames.CONTENT_LENGTH, 0); // as Envoy's codec: the end is said, not implied
      }
      if (!endStream && !HttpUtil.isContentLengthSet(headers)) {
        if (version == HttpVersion.HTTP_1_1) {
          chunked = true;
          h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        } else {
          closeAfter = true; // HTTP/1.0: the body ends with the connection
        }
      }
      if (closeAfter) {
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      } else if (version == HttpVersion.HTTP_1_0) {
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      } else {
        h.remove(HttpHeaderNames.CONNECTION);
      }
      if (endStream) {
        ctx.write(headers);
        finish(ctx.write(LastHttpContent.EMPTY_LAST_CONTENT));
      } else {
        ctx.write(headers);
        flusher.schedule();
      }
    }

    @Override
    public void encodeData(ByteBuf data, boolean endStream) {
      if (responseDone) {
        return;
      }
      if (endStream) {
        finish(ctx.write(new DefaultLastHttpContent(data.retain())));
      } else {
        ctx.write(new DefaultHttpContent(data.retain()));
        flusher.schedule();
      }
    }

    @Override
    public void encodeTrailers(HttpHeaders trailers) {
      if (responseDone) {
        return;
      }
      DefaultLastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
      if (chunked) {
        last.trailingHeaders().set(trailers); // only chunked HTTP/1.1 can carry trailers
      }
      finish(ctx.write(last));
    }

    /** The response's last write: once done, the connection goes on or closes. */
    private void finish(ChannelFuture written) {
      responseDone = true;
      flusher.schedule();
      // A request whose body has not all arrived leaves bytes on the connection that are not a
      // request: it cannot carry another.
      boolean close = closeAfter || !requestDone;
      written.addListener(
          (ChannelFutureListener)
              f -> {
                decoder.onEncodeComplete(f.isSuccess());
                if (close || !f.isSuccess()) {
                  ctx.channel().close();
                } else if (active == this) {
                  next();
                }
              });
    }

    @Override
    public void reset() {
      responseDone = true;
      ctx.channel().close();
    }

    @Override
    public void readDisable(boolean disable) {
      readDisables += disable ? 1 : -1;
      boolean now = readDisables > 0;
      if (now != readDisabledByStream && active == this) {
        readDisabledByStream = now;
        updateAutoRead();
      }
    }

    @Override
    public boolean writable() {
      return ctx.channel().isWritable();
    }

    @Override
    public boolean http2() {
      return false;
    }

    @Override
    public Channel connection() {
      return ctx.channel();
    }

    @Override
    public void goAway() {
      closeAfter = true;
    }
  }
}
