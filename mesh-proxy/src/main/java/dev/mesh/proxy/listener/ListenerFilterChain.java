package dev.mesh.proxy.listener;

import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The listener filters that look at a connection's first bytes (tls_inspector, http_inspector), in
 * the listener's order: each sees every byte read so far until it has decided, then the next one
 * does; none consumes them. Then the connection, with what they found, goes on to its filter chain,
 * which reads the same bytes from the start. Envoy's listener_filters_timeout bounds the wait: the
 * connection is closed then, or goes on as it is when continue_on_listener_filters_timeout.
 */
final class ListenerFilterChain extends ChannelInboundHandlerAdapter {
  private final List<ListenerFilter> inspectors;
  private final long timeoutMillis;
  private final boolean continueOnTimeout;
  private final Consumer<ChannelHandlerContext> onDecided;
  private ConnectionInfo info;
  private ByteBuf seen;
  private int next;
  private int maxBytes;
  private ScheduledFuture<?> timer;

  ListenerFilterChain(
      List<ListenerFilter> inspectors,
      long timeoutMillis,
      boolean continueOnTimeout,
      Consumer<ChannelHandlerContext> onDecided) {
    this.inspectors = inspectors;
    this.timeoutMillis = timeoutMillis;
    this.continueOnTimeout = continueOnTimeout;
    this.onDecided = onDecided;
    for (ListenerFilter f : inspectors) {
      maxBytes = Math.max(maxBytes, f.maxReadBytes());
    }
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    info = ConnectionInfo.of(ctx.channel());
    seen = ctx.alloc().buffer(512);
    if (timeoutMillis > 0) {
      timer =
          ctx.executor()
              .schedule(
                  () -> {
                    if (continueOnTimeout) {
                      decide(ctx);
                    } else {
                      ctx.close(); // Envoy closes on listener_filters_timeout unless told otherwise
                    }
                  },
                  timeoutMillis,
                  TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    seen.writeBytes(in);
    in.release();
    while (next < inspectors.size()) {
      if (!inspectors.get(next).onData(seen, info) && seen.readableBytes() < maxBytes) {
        return; // this one needs more bytes
      }
      next++;
    }
    decide(ctx);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    release();
    super.channelInactive(ctx);
  }

  private void decide(ChannelHandlerContext ctx) {
    if (seen == null) {
      return;
    }
    if (timer != null) {
      timer.cancel(false);
    }
    ByteBuf buffered = seen;
    seen = null;
    onDecided.accept(ctx);
    ctx.pipeline().remove(this);
    // The chain's handlers were added after this one: they see the connection start afresh.
    ctx.pipeline().fireChannelActive();
    if (buffered.isReadable()) {
      ctx.pipeline().fireChannelRead(buffered);
      ctx.pipeline().fireChannelReadComplete();
    } else {
      buffered.release();
    }
  }

  private void release() {
    if (timer != null) {
      timer.cancel(false);
    }
    if (seen != null) {
      seen.release();
      seen = null;
    }
  }
}
