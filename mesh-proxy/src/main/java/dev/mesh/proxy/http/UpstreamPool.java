package dev.mesh.proxy.http;

import dev.mesh.proxy.cluster.CircuitBreakers;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.cluster.UpstreamConnector;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Keep-alive HTTP/1.1 connections to upstream hosts, one pool per event loop: a request's upstream
 * connection lives on its downstream connection's loop, so nothing here is shared between threads.
 */
final class UpstreamPool {
  private UpstreamPool() {}

  /** Idle connections are kept per cluster (its breakers count them) and address. */
  private record Key(CircuitBreakers owner, InetSocketAddress address) {}

  private static final AttributeKey<Key> KEY = AttributeKey.valueOf("mesh.upstream.key");

  private static final FastThreadLocal<Map<Key, ArrayDeque<Channel>>> IDLE =
      new FastThreadLocal<>() {
        @Override
        protected Map<Key, ArrayDeque<Channel>> initialValue() {
          return new HashMap<>();
        }
      };

  /** Why an exchange with an upstream failed, in Envoy's terms. */
  enum Failure {
    CONNECT_FAILURE,
    CONNECT_TIMEOUT,
    RESET,
    OVERFLOW
  }

  static final class UpstreamFailure extends Exception {
    final Failure failure;

    UpstreamFailure(Failure failure, String message) {
      super(message, null, false, false);
      this.failure = failure;
    }

    /** A connection attempt that failed: timed out, or refused or unreachable. */
    static UpstreamFailure connecting(Throwable cause) {
      return new UpstreamFailure(
          cause instanceof io.netty.channel.ConnectTimeoutException
              ? Failure.CONNECT_TIMEOUT
              : Failure.CONNECT_FAILURE,
          String.valueOf(cause.getMessage()));
    }
  }

  /**
   * Gets an idle connection to the address, or opens one if the cluster's max_connections allows,
   * or waits as a pending request; fails with OVERFLOW when the pending queue is full. Callbacks
   * run on the loop.
   */
  static void acquire(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      Consumer<Channel> onReady,
      Consumer<UpstreamFailure> onFailure) {
    if (cluster.http2()) {
      Http2Upstream.acquireStream(loop, channelType, cluster, address, onReady, onFailure);
      return;
    }
    CircuitBreakers breakers = cluster.circuitBreakers();
    Key key = new Key(breakers, address);
    ArrayDeque<Channel> idle = IDLE.get().get(key);
    while (idle != null && !idle.isEmpty()) {
      Channel c = idle.pollLast();
      if (c.isActive()) {
        onReady.accept(c);
        return;
      }
    }
    if (!breakers.tryOpenConnection()) {
      boolean queued =
          breakers.tryWait(
              new CircuitBreakers.Waiter(
                  loop, () -> acquire(loop, channelType, cluster, address, onReady, onFailure)));
      if (!queued) {
        onFailure.accept(new UpstreamFailure(Failure.OVERFLOW, "overflow"));
      }
      return;
    }
    UpstreamConnector.connect(
            loop,
            channelType,
            cluster,
            address,
            false,
            ch -> {
              ch.attr(KEY).set(key);
              ch.pipeline()
                  .addLast(new HttpClientCodec())
                  .addLast(new BufferOrStream())
                  .addLast(new Exchange());
            })
        .addListener(
            (ChannelFutureListener)
                f -> {
                  // The slot is the connection's until it closes, whether it opened or not.
                  f.channel().closeFuture().addListener(c -> breakers.connectionClosed());
                  if (f.isSuccess()) {
                    cluster.stats().cxTotal.inc();
                    onReady.accept(f.channel());
                  } else {
                    f.channel().close();
                    onFailure.accept(UpstreamFailure.connecting(f.cause()));
                  }
                });
  }

  /**
   * Returns a connection that finished its exchange. When requests of its cluster are pending, it
   * is closed instead, so that its slot goes to them on their own event loops.
   */
  static void release(Channel c) {
    if (c instanceof io.netty.handler.codec.http2.Http2StreamChannel) {
      return; // the stream ended with the response; its connection stays for other streams
    }
    Key key = c.attr(KEY).get();
    if (!c.isActive() || key == null) {
      return;
    }
    if (key.owner().hasWaiters()) {
      c.close();
      return;
    }
    IDLE.get().computeIfAbsent(key, k -> new ArrayDeque<>()).add(c);
  }

  /**
   * Sends a request; the promise completes with the response (a FullHttpResponse, or the head of a
   * streamed one whose body is then {@link #streamedBody}), or fails with UpstreamFailure.
   */
  static void send(Channel c, HttpRequest request, Promise<HttpResponse> response) {
    c.pipeline().get(Exchange.class).pending = response;
    c.writeAndFlush(request)
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (!f.isSuccess()) {
                    response.tryFailure(new UpstreamFailure(Failure.RESET, "write failed"));
                    c.close();
                  }
                });
  }

  /** The body of the streamed response whose head the connection delivered last. */
  static BodyRelay streamedBody(Channel c) {
    return c.pipeline().get(Exchange.class).body;
  }

  /** Completes the pending exchange of an upstream connection. */
  static final class Exchange extends ChannelInboundHandlerAdapter {
    Promise<HttpResponse> pending;
    BodyRelay body;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof HttpResponse head) {
        if (!(msg instanceof FullHttpResponse)) {
          body = new BodyRelay(ctx.channel(), 0);
        }
        Promise<HttpResponse> p = pending;
        pending = null;
        if (p == null || !p.trySuccess(head)) {
          ReferenceCountUtil.release(msg);
          ctx.close();
        }
      } else if (msg instanceof HttpContent piece && body != null) {
        BodyRelay b = body;
        if (piece instanceof LastHttpContent) {
          body = null;
          ctx.channel().config().setAutoRead(true);
        }
        b.offer(piece);
      } else {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      fail(new UpstreamFailure(Failure.RESET, "connection closed"));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      fail(new UpstreamFailure(Failure.RESET, String.valueOf(cause.getMessage())));
      ctx.close();
    }

    private void fail(UpstreamFailure failure) {
      Promise<HttpResponse> p = pending;
      pending = null;
      if (p != null) {
        p.tryFailure(failure);
      }
      BodyRelay b = body;
      body = null;
      if (b != null) {
        b.sourceFailed();
      }
    }
  }
}
