package dev.mesh.proxy.listener;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * Envoy's tls_inspector and http_inspector: reads a connection's first bytes without consuming
 * them, finds TLS (with the ClientHello's SNI and ALPN) or plaintext HTTP/1.x or an HTTP/2 preface,
 * then hands the connection and the bytes read to the chosen filter chain.
 */
final class ProtocolSniffer extends ChannelInboundHandlerAdapter {
  private static final byte[] H2_PREFACE =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_INSPECT = 16 * 1024;

  private final boolean tlsInspector;
  private final boolean httpInspector;
  private final long timeoutMillis;
  private final boolean continueOnTimeout;
  private final java.net.InetSocketAddress destination;
  private final BiConsumer<ChannelHandlerContext, ConnectionFacts> onDecided;
  private ByteBuf seen;
  private ScheduledFuture<?> timer;

  ProtocolSniffer(
      boolean tlsInspector,
      boolean httpInspector,
      long timeoutMillis,
      boolean continueOnTimeout,
      java.net.InetSocketAddress destination,
      BiConsumer<ChannelHandlerContext, ConnectionFacts> onDecided) {
    this.tlsInspector = tlsInspector;
    this.httpInspector = httpInspector;
    this.timeoutMillis = timeoutMillis;
    this.continueOnTimeout = continueOnTimeout;
    this.destination = destination;
    this.onDecided = onDecided;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    seen = ctx.alloc().buffer(512);
    if (timeoutMillis > 0) {
      timer =
          ctx.executor()
              .schedule(
                  () -> {
                    if (continueOnTimeout) {
                      decide(ctx, ConnectionFacts.unsniffed(destination));
                    } else {
                      ctx.close(); // Envoy closes on listener_filters_timeout unless told otherwise
                    }
                  },
                  timeoutMillis,
                  TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    seen.writeBytes(in);
    in.release();
    ConnectionFacts facts = inspect(seen);
    if (facts != null) {
      decide(ctx, facts);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    release();
    super.channelInactive(ctx);
  }

  private void decide(ChannelHandlerContext ctx, ConnectionFacts facts) {
    if (timer != null) {
      timer.cancel(false);
    }
    ByteBuf buffered = seen;
    seen = null;
    onDecided.accept(ctx, facts);
    ctx.pipeline().remove(this);
    // The chain's handlers were added after this one: they see the connection start afresh.
    ctx.pipeline().fireChannelActive();
    if (buffered.isReadable()) {
      ctx.pipeline().fireChannelRead(buffered);
      ctx.pipeline().fireChannelReadComplete();
    } else {
      buffered.release();
    }
  }

  private void release() {
    if (timer != null) {
      timer.cancel(false);
    }
    if (seen != null) {
      seen.release();
      seen = null;
    }
  }

  /** The facts, or null while more bytes are needed. */
  ConnectionFacts inspect(ByteBuf b) {
    int n = b.readableBytes();
    if (n == 0) {
      return null;
    }
    if (tlsInspector && b.getByte(0) == 0x16) {
      if (n < 5) {
        return null;
      }
      int recordLength = b.getUnsignedShort(3);
      if (n < 5 + recordLength && n < MAX_INSPECT) {
        return null;
      }
      ClientHello hello = ClientHello.parse(b, 5, Math.min(n, 5 + recordLength));
      return new ConnectionFacts(destination, "tls", hello.serverName, hello.alpn);
    }
    if (!httpInspector) {
      return ConnectionFacts.unsniffed(destination);
    }
    int check = Math.min(n, H2_PREFACE.length);
    boolean prefaceSoFar = true;
    for (int i = 0; i < check; i++) {
      if (b.getByte(i) != H2_PREFACE[i]) {
        prefaceSoFar = false;
        break;
      }
    }
    if (prefaceSoFar) {
      return n >= H2_PREFACE.length
          ? new ConnectionFacts(destination, "raw_buffer", "", List.of("h2c"))
          : null;
    }
    int eol = b.indexOf(0, n, (byte) '\n');
    if (eol < 0) {
      return n >= MAX_INSPECT || !looksLikeRequestLineStart(b, n)
          ? ConnectionFacts.unsniffed(destination)
          : null;
    }
    String line = b.toString(0, eol, StandardCharsets.ISO_8859_1).trim();
    String[] parts = line.split(" ");
    if (parts.length == 3 && isToken(parts[0])) {
      if (parts[2].equals("HTTP/1.1")) {
        return new ConnectionFacts(destination, "raw_buffer", "", List.of("http/1.1"));
      }
      if (parts[2].equals("HTTP/1.0")) {
        return new ConnectionFacts(destination, "raw_buffer", "", List.of("http/1.0"));
      }
    }
    return ConnectionFacts.unsniffed(destination);
  }

  private static boolean looksLikeRequestLineStart(ByteBuf b, int n) {
    for (int i = 0; i < n; i++) {
      byte c = b.getByte(i);
      if (c == ' ') {
        return i > 0;
      }
      if (c < 'A' || c > 'Z') {
        return false;
      }
    }
    return true;
  }

  private static boolean isToken(String s) {
    return !s.isEmpty() && s.chars().allMatch(c -> c >= 'A' && c <= 'Z');
  }

  /** The SNI and ALPN protocols of a TLS ClientHello. */
  static final class ClientHello {
    String serverName = "";
    final List<String> alpn = new ArrayList<>();

    static ClientHello parse(ByteBuf b, int from, int to) {
      ClientHello h = new ClientHello();
      try {
        int at = from;
        if (b.getByte(at) != 1) {
          return h; // not a ClientHello
        }
        at += 4 + 2 + 32; // handshake header, client_version, random
        at += 1 + b.getUnsignedByte(at); // session id
        at += 2 + b.getUnsignedShort(at); // cipher suites
        at += 1 + b.getUnsignedByte(at); // compression methods
        int end = Math.min(to, at + 2 + b.getUnsignedShort(at));
        at += 2;
        while (at + 4 <= end) {
          int type = b.getUnsignedShort(at);
          int len = b.getUnsignedShort(at + 2);
          int data = at + 4;
          if (type == 0 && len > 5) { // server_name: list, type host_name (0), name
            int nameLen = b.getUnsignedShort(data + 3);
            h.serverName = b.toString(data + 5, nameLen, StandardCharsets.US_ASCII);
          } else if (type == 16 && len > 2) { // application_layer_protocol_negotiation
            int p = data + 2;
            int listEnd = data + 2 + b.getUnsignedShort(data);
            while (p < listEnd) {
              int l = b.getUnsignedByte(p);
              h.alpn.add(b.toString(p + 1, l, StandardCharsets.US_ASCII));
              p += 1 + l;
            }
          }
          at = data + len;
        }
      } catch (IndexOutOfBoundsException e) {
        // A truncated hello: what was found so far stands.
      }
      return h;
    }
  }
}
