package dev.mesh.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A downstream connection's life in an http_connection_manager: counted once in the stats, and
 * closed by Envoy's idle_timeout, which runs only while the connection has no active requests. One
 * timer per connection; requests only update a counter and a timestamp.
 */
final class ConnectionLifecycle extends ChannelInboundHandlerAdapter {
  private static final AttributeKey<ConnectionLifecycle> KEY =
      AttributeKey.valueOf("mesh.http.lifecycle");
  private static final ConnectionLifecycle NONE = new ConnectionLifecycle(null, 0);

  private final HttpConnectionManagerConfig hcm;
  private final long idleNanos;
  private int active;
  private long idleSince = System.nanoTime();
  private boolean counted;
  private ScheduledFuture<?> timer;

  ConnectionLifecycle(HttpConnectionManagerConfig hcm, long idleMillis) {
    this.hcm = hcm;
    this.idleNanos = TimeUnit.MILLISECONDS.toNanos(idleMillis);
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
    if (--active == 0) {
      idleSince = System.nanoTime();
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    ctx.channel().attr(KEY).set(this);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    if (!counted) {
      counted = true;
      hcm.stats.cxTotal.inc();
      hcm.stats.cxActive.inc();
      if (idleNanos > 0) {
        timer = ctx.executor().schedule(() -> check(ctx), idleNanos, TimeUnit.NANOSECONDS);
      }
    }
    super.channelActive(ctx);
  }

  private void check(ChannelHandlerContext ctx) {
    if (!ctx.channel().isActive()) {
      return; // closed (or upgraded to a relay, which removed this handler)
    }
    long due = idleSince + idleNanos - System.nanoTime();
    if (active == 0 && due <= 0) {
      ctx.close();
      return;
    }
    timer =
        ctx.executor()
            .schedule(() -> check(ctx), active > 0 ? idleNanos : due, TimeUnit.NANOSECONDS);
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
}
