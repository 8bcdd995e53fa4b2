package dev.mesh.proxy.network;

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
import java.util.function.LongConsumer;

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
      LongConsumer rxBytes,
      LongConsumer txBytes,
      Stats.Counter idleTimeouts) {
    HalfClose pair = new HalfClose(downstream, upstream);
    downstream.pipeline().addLast(new Forwarder(upstream, rxBytes, pair, true, idleTimeouts));
    upstream.pipeline().addLast(new Forwarder(downstream, txBytes, pair, false, idleTimeouts));
    startReading(downstream);
    startReading(upstream);
  }

  /**
   * Reads driven by writes from here on. A side whose input already ended is left alone: Netty has
   * taken its descriptor out of epoll, and asking it to read would fail.
   */
  private static void startReading(Channel ch) {
    if (!inputEnded(ch)) {
      ch.config().setAutoRead(false);
      ch.read();
    }
  }

  private static void readMore(Channel ch) {
    if (!inputEnded(ch)) {
      ch.read();
    }
  }

  private static boolean inputEnded(Channel ch) {
    return ch instanceof DuplexChannel d && d.isInputShutdown();
  }

  public static void closeOnFlush(Channel ch) {
    if (ch.isActive()) {
      ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** Writes what one side reads to the other side. */
  static final class Forwarder extends ChannelInboundHandlerAdapter {
    private final Channel to;
    private final LongConsumer bytes;
    private final HalfClose pair;
    private final boolean downstreamSide;
    private final Stats.Counter idleTimeouts;

    Forwarder(
        Channel to,
        LongConsumer bytes,
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
        bytes.accept(b.readableBytes());
      }
      to.writeAndFlush(msg)
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (f.isSuccess()) {
                      readMore(ctx.channel());
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
