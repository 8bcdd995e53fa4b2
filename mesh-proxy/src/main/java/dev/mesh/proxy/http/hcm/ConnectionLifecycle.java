package dev.mesh.proxy.http.hcm;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A downstream connection's life in an http_connection_manager, and Envoy's timeouts on it:
 * idle_timeout (no active requests for that long: close), request_headers_timeout (a request's
 * headers take longer from their first byte: 408) and, for HTTP/1.1 bytes that are not yet a
 * request, stream_idle_timeout (408); a stream keeps its own stream_idle_timeout once its headers
 * are in. One timer per connection; bytes and requests only update timestamps and counters.
 */
final class ConnectionLifecycle extends ChannelDuplexHandler {
  private static final AttributeKey<ConnectionLifecycle> KEY =
      AttributeKey.valueOf("mesh.http.lifecycle");
  private static final ConnectionLifecycle NONE = new ConnectionLifecycle(null, 0, 0, 0);

  private final HcmConfig hcm;
  private final long idleNanos;
  private final long headersNanos;
  private final long streamIdleNanos;
  private int active;
  private long idleSince = System.nanoTime();
  private long lastActivity = System.nanoTime();
  private long headersStarted; // 0 when no request's headers are on their way
  private boolean streamOpen; // bytes of a request seen, its response not yet written
  private boolean counted;
  private ChannelHandlerContext ctx;
  private ScheduledFuture<?> timer;

  ConnectionLifecycle(HcmConfig hcm, long idleMillis, long headersMillis, long streamIdleMillis) {
    this.hcm = hcm;
    this.idleNanos = TimeUnit.MILLISECONDS.toNanos(idleMillis);
    this.headersNanos = TimeUnit.MILLISECONDS.toNanos(headersMillis);
    this.streamIdleNanos = TimeUnit.MILLISECONDS.toNanos(streamIdleMillis);
  }

  /** The lifecycle of a connection (the parent, for an HTTP/2 stream). */
  static ConnectionLifecycle of(Channel connection) {
    ConnectionLifecycle l = connection.attr(KEY).get();
    return l == null ? NONE : l;
  }

  void requestStarted() {
    active++;
  }

  void requestFinished() {
    streamOpen = false;
    if (--active == 0) {
      idleSince = System.nanoTime();
    }
  }

  /** The decoder has a request's headers: request_headers_timeout no longer applies to it. */
  void headersReceived() {
    headersStarted = 0;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    ctx.channel().attr(KEY).set(this);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    if (!counted) {
      counted = true;
      hcm.stats.cxTotal.inc();
      hcm.stats.cxActive.inc();
      schedule(nextCheckNanos());
    }
    super.channelActive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    if (msg instanceof ByteBuf) {
      long now = System.nanoTime();
      lastActivity = now;
      if (!streamOpen) {
        streamOpen = true;
        headersStarted = now;
      }
    }
    super.channelRead(ctx, msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
      throws Exception {
    lastActivity = System.nanoTime();
    super.write(ctx, msg, promise);
  }

  private long nextCheckNanos() {
    long next = Long.MAX_VALUE;
    for (long t : new long[] {idleNanos, headersNanos, streamIdleNanos}) {
      if (t > 0) {
        next = Math.min(next, t);
      }
    }
    return next == Long.MAX_VALUE ? 0 : Math.max(TimeUnit.MILLISECONDS.toNanos(10), next / 4);
  }

  private void schedule(long delay) {
    if (delay > 0) {
      timer = ctx.executor().schedule(this::check, delay, TimeUnit.NANOSECONDS);
    }
  }

  private void check() {
    Channel ch = ctx.channel();
    if (!ch.isActive()) {
      return; // closed (or upgraded to a relay, which removed this handler)
    }
    long now = System.nanoTime();
    boolean http2 = ch.pipeline().get(io.netty.handler.codec.http2.Http2FrameCodec.class) != null;
    if (!http2 && headersNanos > 0 && headersStarted != 0 && now - headersStarted >= headersNanos) {
      timeout(hcm.stats.headersTimeout);
      return;
    }
    // Once a request's headers are in, its stream keeps stream_idle_timeout itself (ActiveStream).
    if (!http2
        && streamIdleNanos > 0
        && streamOpen
        && active == 0
        && now - lastActivity >= streamIdleNanos) {
      timeout(hcm.stats.streamIdleTimeout);
      return;
    }
    if (idleNanos > 0 && active == 0 && !streamOpen && now - idleSince >= idleNanos) {
      ch.close();
      return;
    }
    schedule(nextCheckNanos());
  }

  /** Envoy answers 408 to a request that timed out before its response began, and closes. */
  private void timeout(dev.mesh.proxy.stats.Stats.Counter counter) {
    counter.inc();
    if (active > 0) {
      ctx.channel().close(); // the response may have begun: a reset, as in Envoy
      return;
    }
    var response =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.REQUEST_TIMEOUT);
    response.headers().set(HttpHeaderNames.CONTENT_LENGTH, 0);
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    response.headers().set(HttpHeaderNames.SERVER, hcm.serverName);
    ctx.channel().writeAndFlush(response).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (counted) {
      hcm.stats.cxActive.dec();
    }
    if (timer != null) {
      timer.cancel(false);
    }
    super.channelInactive(ctx);
  }

  /** Sits after the HTTP/1.1 decoder: a decoded request means its headers are complete. */
  static final class HeadersObserver extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
      if (msg instanceof HttpRequest) {
        of(ctx.channel()).headersReceived();
      }
      super.channelRead(ctx, msg);
    }
  }
}
