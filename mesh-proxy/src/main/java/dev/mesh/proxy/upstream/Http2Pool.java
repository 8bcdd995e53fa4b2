package dev.mesh.proxy.upstream;

import dev.mesh.proxy.cluster.CircuitBreakers;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.cluster.UpstreamConnector;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * HTTP/2 to an upstream host: one connection per event loop and host, carrying a stream per
 * request. Requests that arrive while the connection is being opened wait for it.
 */
final class Http2Pool {
  private Http2Pool() {}

  private record Key(CircuitBreakers owner, InetSocketAddress address) {}

  /** A request waiting for its connection to open. */
  private static final class Waiter implements PendingStream {
    final ResponseDecoder decoder;
    final PoolCallbacks callbacks;
    boolean cancelled;

    Waiter(ResponseDecoder decoder, PoolCallbacks callbacks) {
      this.decoder = decoder;
      this.callbacks = callbacks;
    }

    @Override
    public void cancel() {
      cancelled = true;
    }
  }

  /** A connection, and the requests waiting for it to open. */
  private static final class Connection {
    Channel channel;
    List<Waiter> waiting = new ArrayList<>();
  }

  private static final FastThreadLocal<Map<Key, Connection>> CONNECTIONS =
      new FastThreadLocal<>() {
        @Override
        protected Map<Key, Connection> initialValue() {
          return new HashMap<>();
        }
      };

  static PendingStream newStream(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      ResponseDecoder decoder,
      PoolCallbacks callbacks) {
    Key key = new Key(cluster.circuitBreakers(), address);
    Map<Key, Connection> all = CONNECTIONS.get();
    Connection c = all.get(key);
    Waiter waiter = new Waiter(decoder, callbacks);
    if (c != null && c.channel != null && c.channel.isActive()) {
      openStream(c.channel, waiter);
      return waiter;
    }
    if (c != null && c.waiting != null) {
      c.waiting.add(waiter);
      return waiter;
    }
    if (!cluster.circuitBreakers().tryOpenConnection()) {
      callbacks.onPoolFailure(new UpstreamFailure(UpstreamFailure.Kind.OVERFLOW, "overflow"));
      return waiter;
    }
    Connection fresh = new Connection();
    fresh.waiting.add(waiter);
    all.put(key, fresh);
    UpstreamConnector.connect(
            loop,
            channelType,
            cluster,
            address,
            false,
            ch ->
                ch.pipeline()
                    .addLast(Http2FrameCodecBuilder.forClient().build())
                    .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter())))
        .addListener(
            (ChannelFutureListener)
                f -> {
                  f.channel()
                      .closeFuture()
                      .addListener(
                          done -> {
                            cluster.circuitBreakers().connectionClosed();
                            if (all.get(key) == fresh) {
                              all.remove(key);
                            }
                          });
                  List<Waiter> waiting = fresh.waiting;
                  fresh.waiting = null;
                  if (f.isSuccess()) {
                    cluster.stats().cxTotal.inc();
                    fresh.channel = f.channel();
                    waiting.forEach(w -> openStream(f.channel(), w));
                  } else {
                    f.channel().close();
                    UpstreamFailure failure = UpstreamFailure.connecting(f.cause());
                    for (Waiter w : waiting) {
                      if (!w.cancelled) {
                        w.callbacks.onPoolFailure(failure);
                      }
                    }
                  }
                });
    return waiter;
  }

  private static void openStream(Channel parent, Waiter waiter) {
    if (waiter.cancelled) {
      return;
    }
    StreamExchange exchange = new StreamExchange(waiter.decoder);
    new Http2StreamChannelBootstrap(parent)
        .handler(
            new ChannelInitializer<Http2StreamChannel>() {
              @Override
              protected void initChannel(Http2StreamChannel ch) {
                ch.pipeline()
                    .addLast(new Http2StreamFrameToHttpObjectCodec(false))
                    .addLast(exchange);
              }
            })
        .open()
        .addListener(
            f -> {
              if (waiter.cancelled) {
                if (f.isSuccess()) {
                  ((Channel) f.getNow()).close();
                }
              } else if (f.isSuccess()) {
                waiter.callbacks.onPoolReady(exchange);
              } else {
                waiter.callbacks.onPoolFailure(
                    new UpstreamFailure(UpstreamFailure.Kind.RESET, String.valueOf(f.cause())));
              }
            });
  }

  /** One request on its own stream of the shared connection. */
  private static final class StreamExchange extends ResponseReader implements UpstreamStream {
    final ResponseDecoder decoder;
    Channel stream;
    boolean requestDone;
    boolean finished;
    int readDisables;

    StreamExchange(ResponseDecoder decoder) {
      this.decoder = decoder;
      expectResponse();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      stream = ctx.channel();
    }

    @Override
    ResponseDecoder decoder() {
      return finished ? null : decoder;
    }

    @Override
    void responseEnded(HttpResponse head) {
      if (!requestDone && !finished) {
        finished = true;
        stream.close(); // answered before the request ended: the rest is not wanted (a reset)
      } else {
        finished = true;
      }
    }

    @Override
    public void encodeHeaders(HttpRequest headers, boolean endStream) {
      if (finished) {
        return;
      }
      write(
          endStream
              ? new DefaultFullHttpRequest(
                  headers.protocolVersion(),
                  headers.method(),
                  headers.uri(),
                  Unpooled.EMPTY_BUFFER,
                  headers.headers(),
                  EmptyHttpHeaders.INSTANCE)
              : headers,
          endStream);
    }

    @Override
    public void encodeData(ByteBuf data, boolean endStream) {
      if (finished) {
        return;
      }
      write(
          endStream
              ? new DefaultLastHttpContent(data.retain())
              : new DefaultHttpContent(data.retain()),
          endStream);
    }

    @Override
    public void encodeTrailers(HttpHeaders trailers) {
      if (finished) {
        return;
      }
      DefaultLastHttpContent last = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
      last.trailingHeaders().set(trailers);
      write(last, true);
    }

    private void write(Object msg, boolean last) {
      if (last) {
        requestDone = true;
      }
      stream
          .writeAndFlush(msg)
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (!f.isSuccess()) {
                      fail(new UpstreamFailure(UpstreamFailure.Kind.RESET, "write failed"));
                      stream.close();
                    }
                  });
    }

    private void fail(UpstreamFailure failure) {
      if (finished) {
        return;
      }
      finished = true;
      if (!responseDone()) {
        decoder.onReset(failure);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      fail(new UpstreamFailure(UpstreamFailure.Kind.RESET, "stream closed"));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      fail(new UpstreamFailure(UpstreamFailure.Kind.RESET, String.valueOf(cause.getMessage())));
      ctx.close();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (!finished) {
        if (ctx.channel().isWritable()) {
          decoder.onBelowWriteBufferLowWatermark();
        } else {
          decoder.onAboveWriteBufferHighWatermark();
        }
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void reset() {
      if (!finished) {
        finished = true;
        stream.close();
      }
    }

    @Override
    public void readDisable(boolean disable) {
      readDisables += disable ? 1 : -1;
      stream.config().setAutoRead(readDisables <= 0);
    }

    @Override
    public boolean writable() {
      return stream.isWritable();
    }

    @Override
    public String localAddress() {
      return ConnectionInfo.localAddress(stream.parent());
    }
  }
}
