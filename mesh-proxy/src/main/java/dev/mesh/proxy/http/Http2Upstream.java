package dev.mesh.proxy.http;

import dev.mesh.proxy.cluster.CircuitBreakers;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.cluster.UpstreamConnector;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
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
import java.util.function.Consumer;

/**
 * HTTP/2 to an upstream host: one connection per event loop and host, carrying a stream per
 * request. Requests that arrive while the connection is being opened wait for it.
 */
final class Http2Upstream {
  private Http2Upstream() {}

  private record Key(CircuitBreakers owner, InetSocketAddress address) {}

  /** A request waiting for its connection to open. */
  private record Waiter(
      Consumer<Channel> onReady, Consumer<UpstreamPool.UpstreamFailure> onFailure) {}

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

  static void acquireStream(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      Consumer<Channel> onReady,
      Consumer<UpstreamPool.UpstreamFailure> onFailure) {
    Key key = new Key(cluster.circuitBreakers(), address);
    Map<Key, Connection> all = CONNECTIONS.get();
    Connection c = all.get(key);
    Waiter waiter = new Waiter(onReady, onFailure);
    if (c != null && c.channel != null && c.channel.isActive()) {
      openStream(c.channel, waiter);
      return;
    }
    if (c != null && c.waiting != null) {
      c.waiting.add(waiter);
      return;
    }
    if (!cluster.circuitBreakers().tryOpenConnection()) {
      onFailure.accept(new UpstreamPool.UpstreamFailure(UpstreamPool.Failure.OVERFLOW, "overflow"));
      return;
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
                    UpstreamPool.UpstreamFailure failure =
                        UpstreamPool.UpstreamFailure.connecting(f.cause());
                    waiting.forEach(w -> w.onFailure().accept(failure));
                  }
                });
  }

  private static void openStream(Channel parent, Waiter waiter) {
    new Http2StreamChannelBootstrap(parent)
        .handler(
            new ChannelInitializer<Http2StreamChannel>() {
              @Override
              protected void initChannel(Http2StreamChannel ch) {
                ch.pipeline()
                    .addLast(new Http2StreamFrameToHttpObjectCodec(false))
                    .addLast(new BufferOrStream())
                    .addLast(new UpstreamPool.Exchange());
              }
            })
        .open()
        .addListener(
            f -> {
              if (f.isSuccess()) {
                waiter.onReady().accept((Channel) f.getNow());
              } else {
                waiter
                    .onFailure()
                    .accept(
                        new UpstreamPool.UpstreamFailure(
                            UpstreamPool.Failure.RESET, String.valueOf(f.cause())));
              }
            });
  }
}
