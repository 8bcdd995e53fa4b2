package dev.mesh.local.kubelet.server;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import java.util.List;
import java.util.logging.Logger;

/**
 * Kubernetes' channel protocol over WebSocket ({@code channel.k8s.io} and its {@code v4.}/{@code
 * v5.} versions, apiserver's wsstream): each binary message is one channel's, its first byte the
 * channel number. Only the binary encodings are served; base64 ones are refused at the handshake.
 */
final class WebSockets {
  private static final Logger LOG = Logger.getLogger(WebSockets.class.getName());
  private static final int MAX_MESSAGE = 16 * 1024 * 1024;

  private WebSockets() {}

  static boolean isUpgrade(FullHttpRequest req) {
    return "websocket".equalsIgnoreCase(req.headers().get(HttpHeaderNames.UPGRADE))
        && req.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true);
  }

  /** What a channel session hears; on the connection's event loop. */
  interface Session {
    /** Once the 101 is out: the session may send. */
    void opened(Channels channels);

    /** A message on {@code channel}; the session owns (releases) {@code data}. */
    void message(int channel, ByteBuf data);

    /** The connection ended. */
    void closed();

    /** The connection can take more writes again after it could not. */
    default void writable() {}
  }

  /** The sending half of a channel session. Callable from any thread. */
  static final class Channels {
    private final Channel ch;
    private final String protocol;

    Channels(Channel ch, String protocol) {
      this.ch = ch;
      this.protocol = protocol;
    }

    /** The negotiated subprotocol ({@code v4.channel.k8s.io}, ...), or empty if none. */
    String protocol() {
      return protocol;
    }

    Channel channel() {
      return ch;
    }

    /** Sends {@code data} (owning it) on {@code channel}. */
    void send(int channel, ByteBuf data) {
      ByteBuf frame =
          Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(new byte[] {(byte) channel}), data);
      ch.writeAndFlush(new BinaryWebSocketFrame(frame));
    }

    /** A normal close (1000), then the connection ends. */
    void close() {
      if (ch.isActive()) {
        ch.writeAndFlush(new CloseWebSocketFrame(1000, null))
            .addListener(ChannelFutureListener.CLOSE);
      }
    }
  }

  /**
   * Completes the handshake with the first of the client's subprotocols that is in {@code
   * protocols} (none, if the client asked for none) and hands the connection to {@code session}.
   */
  static void upgrade(
      ChannelHandlerContext ctx,
      FullHttpRequest req,
      List<String> protocols,
      String what,
      Session session) {
    String url = "wss://" + req.headers().get(HttpHeaderNames.HOST, "kubelet") + req.uri();
    WebSocketServerHandshaker hs =
        new WebSocketServerHandshakerFactory(url, String.join(",", protocols), false, MAX_MESSAGE)
            .newHandshaker(req);
    if (hs == null) {
      WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
      return;
    }
    String offered = req.headers().get(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL);
    Channel ch = ctx.channel();
    ctx.pipeline().replace(KubeletHttpHandler.NAME, "ws-session", new Handler(session, what));
    ctx.pipeline()
        .addBefore("ws-session", "ws-aggregator", new WebSocketFrameAggregator(MAX_MESSAGE));
    hs.handshake(ch, req)
        .addListener(
            f -> {
              if (!f.isSuccess()) {
                LOG.info(what + ": WebSocket handshake failed: " + f.cause());
                ch.close();
                return;
              }
              String chosen = hs.selectedSubprotocol();
              if (offered != null && !offered.isBlank() && chosen == null) {
                LOG.info(what + ": none of the subprotocols " + offered + " is served");
                ch.close();
                return;
              }
              LOG.fine(what + ": WebSocket (" + chosen + ") with " + ch.remoteAddress());
              session.opened(new Channels(ch, chosen == null ? "" : chosen));
            });
  }

  private static final class Handler extends SimpleChannelInboundHandler<WebSocketFrame> {
    private final Session session;
    private final String what;

    Handler(Session session, String what) {
      this.session = session;
      this.what = what;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
      if (frame instanceof BinaryWebSocketFrame) {
        ByteBuf c = frame.content();
        if (c.isReadable()) {
          int channel = c.readUnsignedByte();
          session.message(channel, c.retain());
        }
      } else if (frame instanceof PingWebSocketFrame) {
        ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
      } else if (frame instanceof CloseWebSocketFrame) {
        ctx.writeAndFlush(new CloseWebSocketFrame(1000, null))
            .addListener(ChannelFutureListener.CLOSE);
      }
      // Text messages belong to the base64 encodings, which are not served.
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable()) {
        session.writable();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      session.closed();
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      LOG.log(
          cause instanceof java.io.IOException
              ? java.util.logging.Level.FINE
              : java.util.logging.Level.INFO,
          what + ": WebSocket with " + ctx.channel().remoteAddress() + " failed: " + cause);
      ctx.close();
    }
  }
}
