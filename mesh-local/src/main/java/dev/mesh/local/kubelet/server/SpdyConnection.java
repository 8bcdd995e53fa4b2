package dev.mesh.local.kubelet.server;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.spdy.DefaultSpdyGoAwayFrame;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.DefaultSpdySynReplyFrame;
import io.netty.handler.codec.spdy.SpdyDataFrame;
import io.netty.handler.codec.spdy.SpdyGoAwayFrame;
import io.netty.handler.codec.spdy.SpdyHeadersFrame;
import io.netty.handler.codec.spdy.SpdyPingFrame;
import io.netty.handler.codec.spdy.SpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import io.netty.handler.codec.spdy.SpdySynStreamFrame;
import io.netty.util.ReferenceCountUtil;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * The server side of a SPDY/3.1 session as Kubernetes' clients (moby/spdystream, behind client-go's
 * httpstream) use it: the client opens every stream with SYN_STREAM and waits for the SYN_REPLY;
 * DATA with FIN half-closes a stream; RST_STREAM abandons one; PINGs are echoed; GOAWAY ends the
 * session once its streams are done.
 *
 * <p>No flow control: spdystream neither sends WINDOW_UPDATE nor honours it, so a peer that counted
 * windows (as Netty's SpdySessionHandler does) would stall after the first 64 KiB. Back-pressure
 * comes from the TCP connection instead, through the channel's writability.
 */
final class SpdyConnection extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = Logger.getLogger(SpdyConnection.class.getName());

  private final String what;
  private final Consumer<SpdyStream> onStream;
  private final Runnable onClose;
  private final Map<Integer, SpdyStream> streams = new HashMap<>();
  private Channel channel;
  private int lastStreamId;
  private boolean goingAway;

  /**
   * @param what names the session in logs (the pod and the subresource)
   * @param onStream hears each stream the client opens, on the event loop, after its reply
   * @param onClose runs once the connection has ended
   */
  SpdyConnection(String what, Consumer<SpdyStream> onStream, Runnable onClose) {
    this.what = what;
    this.onStream = onStream;
    this.onClose = onClose;
  }

  Channel channel() {
    return channel;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    channel = ctx.channel();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (msg instanceof SpdySynStreamFrame syn) {
        opened(ctx, syn);
      } else if (msg instanceof SpdyDataFrame data) {
        SpdyStream s = streams.get(data.streamId());
        if (s != null) {
          if (data.content().isReadable()) {
            s.received(data.content().retain());
          }
          if (data.isLast()) {
            s.remoteClosed();
            removeIfDone(s);
          }
        }
      } else if (msg instanceof SpdyRstStreamFrame rst) {
        SpdyStream s = streams.remove(rst.streamId());
        if (s != null) {
          s.discardEarly();
          s.remoteClosed();
        }
        goAwayIfDone();
      } else if (msg instanceof SpdyPingFrame ping) {
        // Odd ids are the client's pings, to be echoed; even ones would be answers to ours.
        if ((ping.id() & 1) == 1) {
          ctx.writeAndFlush(ReferenceCountUtil.retain(ping));
        }
      } else if (msg instanceof SpdyGoAwayFrame) {
        goingAway = true;
        goAwayIfDone();
      } else if (msg instanceof SpdyHeadersFrame headers && headers.isLast()) {
        SpdyStream s = streams.get(headers.streamId());
        if (s != null) {
          s.remoteClosed();
          removeIfDone(s);
        }
      }
      // SETTINGS and WINDOW_UPDATE: nothing to do without flow control (see above).
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void opened(ChannelHandlerContext ctx, SpdySynStreamFrame syn) {
    int id = syn.streamId();
    if (goingAway || (id & 1) == 0 || id <= lastStreamId) {
      ctx.writeAndFlush(new DefaultSpdyRstStreamFrame(id, SpdyStreamStatus.PROTOCOL_ERROR));
      return;
    }
    lastStreamId = id;
    Map<String, String> headers = new LinkedHashMap<>();
    for (Map.Entry<CharSequence, CharSequence> h : syn.headers()) {
      headers.putIfAbsent(h.getKey().toString().toLowerCase(), h.getValue().toString());
    }
    SpdyStream s = new SpdyStream(this, id, headers);
    streams.put(id, s);
    DefaultSpdySynReplyFrame reply = new DefaultSpdySynReplyFrame(id);
    // Netty encodes an empty header block as no bytes at all, which Go's framer cannot inflate
    // (it breaks the session); the reply names the stream type it accepts instead, which
    // spdystream ignores.
    reply.headers().set("streamtype", headers.getOrDefault("streamtype", "unknown"));
    ctx.writeAndFlush(reply);
    if (syn.isLast()) {
      s.remoteClosed();
    }
    onStream.accept(s);
  }

  /** From a stream that sent its FIN or reset. */
  void closedLocally(SpdyStream s) {
    removeIfDone(s);
  }

  private void removeIfDone(SpdyStream s) {
    if (s.isClosed()) {
      streams.remove(s.id());
      goAwayIfDone();
    }
  }

  private void goAwayIfDone() {
    if (goingAway && streams.isEmpty() && channel.isActive()) {
      channel.close();
    }
  }

  /**
   * Ends the session as spdystream does: GOAWAY, then the client closes the connection once it has
   * read its streams to their ends. Closing first could reset the connection under data the client
   * has not read yet; the deadline only bounds a client that never closes.
   */
  void goAway() {
    Runnable r =
        () -> {
          if (channel.isActive()) {
            goingAway = true;
            channel.writeAndFlush(new DefaultSpdyGoAwayFrame(lastStreamId));
            channel.eventLoop().schedule(() -> channel.close(), 10, TimeUnit.SECONDS);
          }
        };
    if (channel.eventLoop().inEventLoop()) {
      r.run();
    } else {
      channel.eventLoop().execute(r);
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      for (SpdyStream s : List.copyOf(streams.values())) {
        s.writable();
      }
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    for (SpdyStream s : List.copyOf(streams.values())) {
      s.discardEarly();
      s.remoteClosed();
    }
    streams.clear();
    onClose.run();
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A client that resets the connection once it has all it wants is the common end.
    LOG.log(
        cause instanceof java.io.IOException
            ? java.util.logging.Level.FINE
            : java.util.logging.Level.INFO,
        what + ": SPDY session with " + ctx.channel().remoteAddress() + " failed: " + cause);
    ctx.close();
  }
}
