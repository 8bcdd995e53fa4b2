package dev.mesh.proxy.xds;

import com.google.protobuf.MessageLite;
import dev.mesh.proxy.cluster.UpstreamConnector;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.net.SocketAddress;
import java.util.function.Consumer;
import javax.net.ssl.SSLException;

/**
 * One bidirectional gRPC call over its own HTTP/2 connection (plaintext, or TLS as the cluster's
 * transport socket says), as the xDS client needs it: messages out, messages in, and the call's end
 * with its grpc-status. gRPC's framing is a byte of flags and four of length before each message;
 * the status comes in trailers. The proxy keeps to Netty and the Envoy protos rather than carrying
 * a second HTTP/2 stack (grpc-java's) for one stream.
 */
final class GrpcStream {
  /** What the call delivers, on the connection's event loop. */
  interface Listener {
    void onMessage(ByteBuf message);

    /** The call ended: the server's grpc-status (0 is OK), or 14 (UNAVAILABLE) for a lost link. */
    void onClose(int status, String message);
  }

  private static final int MAX_MESSAGE = 256 * 1024 * 1024;
  static final int UNAVAILABLE = 14;

  private final Channel connection;
  private final Http2StreamChannel stream;

  private GrpcStream(Channel connection, Http2StreamChannel stream) {
    this.connection = connection;
    this.stream = stream;
  }

  /**
   * Connects (over TLS with {@code tls}, sending {@code sni} unless empty) and starts the call;
   * {@code onOpen} receives the stream, or {@code onFailure} the reason it could not be opened.
   */
  static void open(
      EventLoop loop,
      Class<? extends Channel> channelType,
      SocketAddress address,
      String authority,
      String path,
      SslContext tls,
      String sni,
      Listener listener,
      Consumer<GrpcStream> onOpen,
      Consumer<Throwable> onFailure) {
    new Bootstrap()
        .group(loop)
        .channel(channelType)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
        .handler(
            new ChannelInitializer<>() {
              @Override
              protected void initChannel(Channel ch) {
                if (tls != null) {
                  ch.pipeline().addLast(UpstreamConnector.sslHandler(tls, sni, ch));
                }
                ch.pipeline()
                    .addLast(Http2FrameCodecBuilder.forClient().build())
                    .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
              }
            })
        .connect(address)
        .addListener(
            (ChannelFutureListener)
                connected -> {
                  if (!connected.isSuccess()) {
                    onFailure.accept(connected.cause());
                    return;
                  }
                  Channel connection = connected.channel();
                  SslHandler ssl = connection.pipeline().get(SslHandler.class);
                  if (ssl == null) {
                    startCall(connection, authority, path, false, listener, onOpen, onFailure);
                    return;
                  }
                  // The call starts once the server is verified, so that a refused handshake is
                  // reported as such rather than as a lost connection.
                  ssl.handshakeFuture()
                      .addListener(
                          h -> {
                            if (h.isSuccess()) {
                              startCall(
                                  connection, authority, path, true, listener, onOpen, onFailure);
                            } else {
                              connection.close();
                              onFailure.accept(
                                  new SSLException(
                                      UpstreamConnector.TLS_ERROR
                                          + UpstreamConnector.reason(h.cause()),
                                      h.cause()));
                            }
                          });
                });
  }

  private static void startCall(
      Channel connection,
      String authority,
      String path,
      boolean tls,
      Listener listener,
      Consumer<GrpcStream> onOpen,
      Consumer<Throwable> onFailure) {
    Reader reader = new Reader(listener);
    new Http2StreamChannelBootstrap(connection)
        .handler(reader)
        .open()
        .addListener(
            opened -> {
              if (!opened.isSuccess()) {
                connection.close();
                onFailure.accept(opened.cause());
                return;
              }
              Http2StreamChannel stream = (Http2StreamChannel) opened.getNow();
              Http2Headers headers =
                  new DefaultHttp2Headers()
                      .method("POST")
                      .scheme(tls ? "https" : "http")
                      .path(path)
                      .authority(authority);
              headers.set("content-type", "application/grpc");
              headers.set("te", "trailers");
              stream.writeAndFlush(new DefaultHttp2HeadersFrame(headers, false));
              // The call's end ends the connection: one call per connection.
              stream.closeFuture().addListener(f -> connection.close());
              connection
                  .closeFuture()
                  .addListener(
                      f ->
                          stream
                              .eventLoop()
                              .execute(() -> reader.closed(UNAVAILABLE, "connection closed")));
              onOpen.accept(new GrpcStream(connection, stream));
            });
  }

  /** Sends one message; safe from any thread. */
  void send(MessageLite message) {
    byte[] bytes = message.toByteArray();
    ByteBuf frame = stream.alloc().buffer(5 + bytes.length);
    frame.writeByte(0).writeInt(bytes.length).writeBytes(bytes);
    stream.writeAndFlush(new DefaultHttp2DataFrame(frame, false));
  }

  /** Ends the call and its connection. */
  void cancel() {
    connection.close();
  }

  /** Splits the response's DATA into gRPC messages; reads the status from the trailers. */
  private static final class Reader extends ChannelInboundHandlerAdapter {
    private final Listener listener;
    private CompositeByteBuf pending;
    private boolean closed;

    Reader(Listener listener) {
      this.listener = listener;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof Http2HeadersFrame h) {
          CharSequence status = h.headers().get("grpc-status");
          if (status != null || h.isEndStream()) {
            CharSequence message = h.headers().get("grpc-message");
            CharSequence http = h.headers().status();
            closed(
                status != null
                    ? parseStatus(status)
                    : http != null && !http.toString().equals("200") ? UNAVAILABLE : 2,
                message != null
                    ? message.toString()
                    : http != null ? "HTTP status " + http : "stream ended without status");
            ctx.close();
          }
        } else if (msg instanceof Http2DataFrame d) {
          if (pending == null) {
            pending = ctx.alloc().compositeBuffer(64);
          }
          pending.addComponent(true, d.content().retain());
          drain(ctx);
          if (d.isEndStream()) {
            closed(2, "stream ended without trailers");
            ctx.close();
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    private void drain(ChannelHandlerContext ctx) {
      while (pending.readableBytes() >= 5) {
        int length = pending.getInt(pending.readerIndex() + 1);
        if (length < 0 || length > MAX_MESSAGE) {
          closed(8, "message of " + length + " bytes is beyond the limit");
          ctx.close();
          return;
        }
        if (pending.readableBytes() < 5 + length) {
          return;
        }
        if (pending.getByte(pending.readerIndex()) != 0) {
          closed(12, "compressed messages were not asked for");
          ctx.close();
          return;
        }
        pending.skipBytes(5);
        ByteBuf message = pending.readRetainedSlice(length);
        try {
          listener.onMessage(message);
        } finally {
          message.release();
        }
        pending.discardReadComponents();
      }
    }

    void closed(int status, String message) {
      if (closed) {
        return;
      }
      closed = true;
      if (pending != null) {
        pending.release();
        pending = null;
      }
      listener.onClose(status, message);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      closed(UNAVAILABLE, "stream reset");
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      closed(UNAVAILABLE, String.valueOf(cause.getMessage()));
      ctx.close();
    }

    private static int parseStatus(CharSequence s) {
      try {
        return Integer.parseInt(s.toString());
      } catch (NumberFormatException e) {
        return 2;
      }
    }
  }
}
