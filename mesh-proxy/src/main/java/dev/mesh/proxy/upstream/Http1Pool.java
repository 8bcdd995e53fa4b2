package dev.mesh.proxy.upstream;

import dev.mesh.proxy.cluster.CircuitBreakers;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.cluster.UpstreamConnector;
import dev.mesh.proxy.network.FlushBatcher;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Keep-alive HTTP/1.1 connections to upstream hosts, one pool per event loop: a request's upstream
 * connection lives on its downstream connection's loop, so nothing here is shared between threads.
 * A connection carries one exchange at a time and goes back to the pool when both its request and
 * its response are complete and both sides keep it alive.
 */
final class Http1Pool {
  private Http1Pool() {}

  /** Idle connections are kept per cluster (its breakers count them) and address. */
  private record Key(CircuitBreakers owner, InetSocketAddress address) {}

  private static final FastThreadLocal<Map<Key, ArrayDeque<Connection>>> IDLE =
      new FastThreadLocal<>() {
        @Override
        protected Map<Key, ArrayDeque<Connection>> initialValue() {
          return new HashMap<>();
        }
      };

  /** A request for a connection; it may be cancelled while it waits or connects. */
  private static final class Pending implements PendingStream {
    boolean cancelled;

    @Override
    public void cancel() {
      cancelled = true;
    }
  }

  static PendingStream newStream(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      ResponseDecoder decoder,
      PoolCallbacks callbacks) {
    Pending pending = new Pending();
    acquire(loop, channelType, cluster, address, decoder, callbacks, pending);
    return pending;
  }

  private static void acquire(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      ResponseDecoder decoder,
      PoolCallbacks callbacks,
      Pending pending) {
    if (pending.cancelled) {
      return;
    }
    CircuitBreakers breakers = cluster.circuitBreakers();
    Key key = new Key(breakers, address);
    ArrayDeque<Connection> idle = IDLE.get().get(key);
    while (idle != null && !idle.isEmpty()) {
      Connection c = idle.pollLast();
      if (c.channel.isActive()) {
        callbacks.onPoolReady(c.start(decoder));
        return;
      }
    }
    if (!breakers.tryOpenConnection()) {
      boolean queued =
          breakers.tryWait(
              new CircuitBreakers.Waiter(
                  loop,
                  () -> acquire(loop, channelType, cluster, address, decoder, callbacks, pending)));
      if (!queued) {
        callbacks.onPoolFailure(new UpstreamFailure(UpstreamFailure.Kind.OVERFLOW, "overflow"));
      }
      return;
    }
    Connection conn = new Connection(key);
    UpstreamConnector.connect(
            loop,
            channelType,
            cluster,
            address,
            false,
            ch -> ch.pipeline().addLast(new HttpClientCodec()).addLast(conn))
        .addListener(
            (ChannelFutureListener)
                f -> {
                  // The slot is the connection's until it closes, whether it opened or not.
                  f.channel().closeFuture().addListener(c -> breakers.connectionClosed());
                  if (!f.isSuccess()) {
                    f.channel().close();
                    if (!pending.cancelled) {
                      callbacks.onPoolFailure(UpstreamFailure.connecting(f.cause()));
                    }
                    return;
                  }
                  cluster.stats().cxTotal.inc();
                  if (pending.cancelled) {
                    release(conn); // timed out while connecting: the connection serves others
                  } else {
                    callbacks.onPoolReady(conn.start(decoder));
                  }
                });
  }

  /**
   * A connection whose exchange is complete: idle in the pool, or closed when requests of its
   * cluster are pending, so that its slot goes to them on their own event loops.
   */
  private static void release(Connection c) {
    if (!c.channel.isActive()) {
      return;
    }
    if (c.key.owner().hasWaiters()) {
      c.channel.close();
      return;
    }
    IDLE.get().computeIfAbsent(c.key, k -> new ArrayDeque<>()).add(c);
  }

  /** One upstream connection and the exchange it carries now, if any. */
  private static final class Connection extends ResponseReader {
    final Key key;
    Channel channel;
    FlushBatcher flusher;
    Exchange current;

    Connection(Key key) {
      this.key = key;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      channel = ctx.channel();
      flusher = new FlushBatcher(channel);
    }

    Exchange start(ResponseDecoder decoder) {
      current = new Exchange(this, decoder);
      expectResponse();
      return current;
    }

    @Override
    ResponseDecoder decoder() {
      Exchange e = current;
      return e == null ? null : e.decoder;
    }

    @Override
    void responseEnded(HttpResponse head) {
      Exchange e = current;
      if (e != null) {
        e.responseEnded(head);
      }
    }

    /** The exchange is over: the connection is kept for the next one, or closed. */
    void done(Exchange e, boolean reusable) {
      if (current != e) {
        return;
      }
      current = null;
      clear();
      if (reusable && channel.isActive()) {
        channel.config().setAutoRead(true); // an idle connection notices its close
        release(this);
      } else {
        channel.close();
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      Exchange e = current;
      if (e != null && !e.finished) {
        if (ctx.channel().isWritable()) {
          e.decoder.onBelowWriteBufferLowWatermark();
        } else {
          e.decoder.onAboveWriteBufferHighWatermark();
        }
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      Exchange e = current;
      current = null;
      if (e != null) {
        e.failed(new UpstreamFailure(UpstreamFailure.Kind.RESET, "connection closed"));
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      Exchange e = current;
      current = null;
      if (e != null) {
        e.failed(
            new UpstreamFailure(UpstreamFailure.Kind.RESET, String.valueOf(cause.getMessage())));
      }
      ctx.close();
    }
  }

  /** One request and its response on a connection. */
  private static final class Exchange implements UpstreamStream {
    final Connection conn;
    final ResponseDecoder decoder;
    boolean requestDone;
    boolean responseDone;
    boolean finished;
    boolean keepAlive = true;
    boolean chunked;
    int readDisables;

    Exchange(Connection conn, ResponseDecoder decoder) {
      this.conn = conn;
      this.decoder = decoder;
    }

    @Override
    public void encodeHeaders(HttpRequest headers, boolean endStream) {
      if (finished) {
        return;
      }
      keepAlive = HttpUtil.isKeepAlive(headers);
      chunked = HttpUtil.isTransferEncodingChunked(headers);
      Object out =
          endStream
              ? new DefaultFullHttpRequest(
                  headers.protocolVersion(),
                  headers.method(),
                  headers.uri(),
                  Unpooled.EMPTY_BUFFER,
                  headers.headers(),
                  EmptyHttpHeaders.INSTANCE)
              : headers;
      write(out, endStream);
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
      if (chunked) {
        last.trailingHeaders().set(trailers); // only a chunked body can carry them
      }
      write(last, true);
    }

    private void write(Object msg, boolean last) {
      conn.channel
          .write(msg)
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (!f.isSuccess()) {
                      failed(new UpstreamFailure(UpstreamFailure.Kind.RESET, "write failed"));
                      conn.channel.close();
                    }
                  });
      conn.flusher.schedule();
      if (last) {
        requestDone = true;
        if (responseDone && !finished) {
          finished = true;
          conn.done(this, keepAlive);
        }
      }
    }

    void responseEnded(HttpResponse head) {
      responseDone = true;
      keepAlive &= head == null || HttpUtil.isKeepAlive(head);
      if (finished) {
        return;
      }
      if (readDisables > 0) {
        readDisables = 0;
      }
      if (requestDone) {
        finished = true;
        conn.done(this, keepAlive);
      } else {
        // Answered before the request was sent whole: the connection holds half a request.
        finished = true;
        conn.done(this, false);
      }
    }

    void failed(UpstreamFailure failure) {
      if (finished) {
        return;
      }
      finished = true;
      if (!responseDone) {
        decoder.onReset(failure);
      }
    }

    @Override
    public void reset() {
      if (finished) {
        return;
      }
      finished = true;
      conn.done(this, false);
    }

    @Override
    public void readDisable(boolean disable) {
      if (finished) {
        return;
      }
      readDisables += disable ? 1 : -1;
      conn.channel.config().setAutoRead(readDisables <= 0);
    }

    @Override
    public boolean writable() {
      return conn.channel.isWritable();
    }

    @Override
    public String localAddress() {
      return ConnectionInfo.localAddress(conn.channel);
    }
  }
}
