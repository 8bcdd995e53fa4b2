package dev.mesh.local.kubelet.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.handler.codec.spdy.DefaultSpdyDataFrame;
import io.netty.handler.codec.spdy.DefaultSpdyRstStreamFrame;
import io.netty.handler.codec.spdy.SpdyStreamStatus;
import java.util.ArrayDeque;
import java.util.Map;

/**
 * One stream of a {@link SpdyConnection}, opened by the client with its headers (lowercase names,
 * as SPDY/3 carries them). What arrives before a listener is set is kept for it. Methods may be
 * called from any thread; they run on the connection's event loop.
 */
final class SpdyStream {
  /** What the stream's user hears, on the connection's event loop. */
  interface Listener {
    /** Bytes from the client; the listener owns (releases) them. */
    void data(ByteBuf data);

    /** The client sent its last byte (FIN), or reset the stream, or the connection ended. */
    void remoteClosed();

    /** The connection can take more writes again after it could not. */
    default void writable() {}
  }

  private final SpdyConnection connection;
  private final int id;
  private final Map<String, String> headers;
  private final ArrayDeque<ByteBuf> early = new ArrayDeque<>();
  private Listener listener;
  private boolean remoteClosed;
  private boolean localClosed;
  private boolean remoteClosedDelivered;

  SpdyStream(SpdyConnection connection, int id, Map<String, String> headers) {
    this.connection = connection;
    this.id = id;
    this.headers = headers;
  }

  int id() {
    return id;
  }

  /** A header's value ({@code streamtype}, {@code port}, ...), or null. */
  String header(String name) {
    return headers.get(name);
  }

  Channel channel() {
    return connection.channel();
  }

  void listen(Listener l) {
    run(
        () -> {
          listener = l;
          while (!early.isEmpty()) {
            l.data(early.poll());
          }
          if (remoteClosed && !remoteClosedDelivered) {
            remoteClosedDelivered = true;
            l.remoteClosed();
          }
        });
  }

  /** Sends bytes to the client (and takes ownership of them). */
  void write(ByteBuf data) {
    run(
        () -> {
          if (localClosed || !channel().isActive()) {
            data.release();
            return;
          }
          channel().writeAndFlush(new DefaultSpdyDataFrame(id, data));
        });
  }

  /** Sends the stream's last frame (FIN): the client reads to its end. */
  void close() {
    run(
        () -> {
          if (localClosed) {
            return;
          }
          localClosed = true;
          if (channel().isActive()) {
            DefaultSpdyDataFrame fin = new DefaultSpdyDataFrame(id);
            fin.setLast(true);
            channel().writeAndFlush(fin);
          }
          connection.closedLocally(this);
        });
  }

  /** Abandons the stream (RST_STREAM CANCEL), both directions. */
  void reset() {
    run(
        () -> {
          if (!localClosed && channel().isActive()) {
            channel().writeAndFlush(new DefaultSpdyRstStreamFrame(id, SpdyStreamStatus.CANCEL));
          }
          localClosed = true;
          remoteClosed();
          connection.closedLocally(this);
        });
  }

  boolean isClosed() {
    return localClosed && remoteClosed;
  }

  // From the connection, on its event loop.

  void received(ByteBuf data) {
    if (remoteClosed) {
      data.release();
    } else if (listener == null) {
      early.add(data);
    } else {
      listener.data(data);
    }
  }

  void remoteClosed() {
    if (remoteClosed) {
      return;
    }
    remoteClosed = true;
    if (listener != null && !remoteClosedDelivered) {
      remoteClosedDelivered = true;
      listener.remoteClosed();
    }
  }

  void writable() {
    if (listener != null) {
      listener.writable();
    }
  }

  void discardEarly() {
    while (!early.isEmpty()) {
      early.poll().release();
    }
  }

  private void run(Runnable r) {
    if (channel().eventLoop().inEventLoop()) {
      r.run();
    } else {
      channel().eventLoop().execute(r);
    }
  }
}
