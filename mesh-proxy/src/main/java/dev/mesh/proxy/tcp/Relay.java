package dev.mesh.proxy.tcp;

import dev.mesh.proxy.stats.Stats;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;

/**
 * Bytes relayed between two connections on one event loop, as tcp_proxy and upgraded (WebSocket)
 * HTTP connections need: back-pressure (read the next chunk once the last is written, as in Netty's
 * proxy example), half-close passed on, and both closed when either fails or idles out.
 */
public final class Relay {
  private Relay() {}

  /** Starts relaying between two connected channels whose pipelines hold no other readers. */
  public static void start(
      Channel downstream,
      Channel upstream,
      Stats.Counter rxBytes,
      Stats.Counter txBytes,
      Stats.Counter idleTimeouts) {
    HalfClose pair = new HalfClose(downstream, upstream);
    downstream.config().setAutoRead(false);
    upstream.config().setAutoRead(false);
    downstream.pipeline().addLast(new Forwarder(upstream, rxBytes, pair, true, idleTimeouts));
    upstream.pipeline().addLast(new Forwarder(downstream, txBytes, pair, false, idleTimeouts));
    downstream.read();
    upstream.read();
  }

  public static void closeOnFlush(Channel ch) {
    if (ch.isActive()) {
      ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** Writes what one side reads to the other side. */
  static final class Forwarder extends ChannelInboundHandlerAdapter {
    private final Channel to;
    private final Stats.Counter bytes;
    private final HalfClose pair;
    private final boolean downstreamSide;
    private final Stats.Counter idleTimeouts;

    Forwarder(
        Channel to,
        Stats.Counter bytes,
        HalfClose pair,
        boolean downstreamSide,
        Stats.Counter idleTimeouts) {
      this.to = to;
      this.bytes = bytes;
      this.pair = pair;
      this.downstreamSide = downstreamSide;
      this.idleTimeouts = idleTimeouts;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof ByteBuf b && bytes != null) {
        bytes.add(b.readableBytes());
      }
      to.writeAndFlush(msg)
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (f.isSuccess()) {
                      ctx.channel().read();
                    } else {
                      f.channel().close();
                    }
                  });
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof ChannelInputShutdownEvent) {
        pair.finished(downstreamSide);
      } else if (evt instanceof IdleStateEvent) {
        if (idleTimeouts != null) {
          idleTimeouts.inc();
        }
        ctx.channel().close();
        to.close();
      } else {
        super.userEventTriggered(ctx, evt);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      closeOnFlush(to);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      closeOnFlush(ctx.channel());
    }
  }

  /**
   * Half-close as Envoy's tcp_proxy does it: a FIN from one side is passed on as a FIN to the other
   * once what was read before it is written, and the pair closes when both sides are done. Both
   * channels live on one event loop, so this needs no locking.
   */
  static final class HalfClose {
    private final Channel downstream;
    private final Channel upstream;
    private boolean downstreamDone;
    private boolean upstreamDone;

    HalfClose(Channel downstream, Channel upstream) {
      this.downstream = downstream;
      this.upstream = upstream;
    }

    void finished(boolean downstreamSide) {
      if (downstreamSide) {
        downstreamDone = true;
      } else {
        upstreamDone = true;
      }
      Channel other = downstreamSide ? upstream : downstream;
      if (downstreamDone && upstreamDone) {
        closeOnFlush(downstream);
        closeOnFlush(upstream);
      } else if (other instanceof DuplexChannel d && d.isActive()) {
        d.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> d.shutdownOutput());
      }
    }
  }
}
