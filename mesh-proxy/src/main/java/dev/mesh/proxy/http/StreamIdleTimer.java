package dev.mesh.proxy.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's stream_idle_timeout on one HTTP/2 stream: if no frame is read or written on it for that
 * long, the stream ends with 408 when its response has not begun, else with a reset.
 */
final class StreamIdleTimer extends ChannelDuplexHandler {
  private final HttpConnectionManagerConfig hcm;
  private final long timeoutNanos;
  private long lastActivity = System.nanoTime();
  private boolean responseStarted;
  private boolean done;
  private ScheduledFuture<?> timer;

  StreamIdleTimer(HttpConnectionManagerConfig hcm, long timeoutMillis) {
    this.hcm = hcm;
    this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    timer = ctx.executor().schedule(() -> check(ctx), timeoutNanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    lastActivity = System.nanoTime();
    super.channelRead(ctx, msg);
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
      throws Exception {
    lastActivity = System.nanoTime();
    if (msg instanceof Http2HeadersFrame h) {
      responseStarted = true;
      done |= h.isEndStream();
    } else if (msg instanceof Http2DataFrame d) {
      done |= d.isEndStream();
    }
    super.write(ctx, msg, promise);
  }

  private void check(ChannelHandlerContext ctx) {
    if (done || !ctx.channel().isActive()) {
      return;
    }
    long idle = System.nanoTime() - lastActivity;
    if (idle < timeoutNanos) {
      timer = ctx.executor().schedule(() -> check(ctx), timeoutNanos - idle, TimeUnit.NANOSECONDS);
      return;
    }
    hcm.stats.streamIdleTimeout.inc();
    if (responseStarted) {
      ctx.close(); // a reset, as in Envoy once the response has begun
      return;
    }
    done = true;
    ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("408"), true));
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (timer != null) {
      timer.cancel(false);
    }
    super.channelInactive(ctx);
  }
}
