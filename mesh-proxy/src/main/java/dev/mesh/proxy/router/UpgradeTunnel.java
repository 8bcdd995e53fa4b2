package dev.mesh.proxy.router;

import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.cluster.UpstreamConnector;
import dev.mesh.proxy.network.Relay;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * An HTTP/1.1 upgrade (WebSocket) through the proxy: the request goes to the upstream as written,
 * and once the upstream answers, its response and everything after it, both ways, is relayed as
 * bytes, as Envoy does for upgrade_configs.
 */
final class UpgradeTunnel {
  private UpgradeTunnel() {}

  /**
   * Opens the tunnel. {@code onResponse} gets the upstream's status (0 when it could not be
   * reached) before the downstream connection becomes a relay.
   */
  static void open(
      Channel downstream,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      Endpoint endpoint,
      HttpRequest request,
      IntConsumer onResponse) {
    ByteBuf head = encode(request);
    UpstreamConnector.connect(
            downstream.eventLoop(),
            channelType,
            cluster,
            endpoint.address(),
            true,
            ch -> ch.pipeline().addLast(new ResponseHead(downstream, onResponse)))
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (f.isSuccess()) {
                    f.channel().writeAndFlush(head);
                  } else {
                    head.release();
                    onResponse.accept(0);
                  }
                });
  }

  private static ByteBuf encode(HttpRequest r) {
    StringBuilder b = new StringBuilder();
    b.append(r.method().name()).append(' ').append(r.uri()).append(" HTTP/1.1\r\n");
    for (Map.Entry<String, String> h : r.headers()) {
      b.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
    }
    b.append("\r\n");
    return Unpooled.copiedBuffer(b, StandardCharsets.ISO_8859_1);
  }

  /** Reads the upstream's response head, then turns both connections into a relay. */
  private static final class ResponseHead extends ChannelInboundHandlerAdapter {
    private final Channel downstream;
    private final IntConsumer onResponse;
    private ByteBuf seen;
    private boolean answered;

    ResponseHead(Channel downstream, IntConsumer onResponse) {
      this.downstream = downstream;
      this.onResponse = onResponse;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ByteBuf in = (ByteBuf) msg;
      if (seen == null) {
        seen = ctx.alloc().buffer();
      }
      seen.writeBytes(in);
      in.release();
      int end = seen.indexOf(seen.readerIndex(), seen.writerIndex(), (byte) '\n');
      if (end < 0) {
        return;
      }
      String statusLine = seen.toString(seen.readerIndex(), end, StandardCharsets.ISO_8859_1);
      String[] parts = statusLine.trim().split(" ");
      int status = 0;
      try {
        status = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
      } catch (NumberFormatException e) {
        // not HTTP: relayed all the same, reported as status 0
      }
      answered = true;
      onResponse.accept(status);
      ByteBuf first = seen;
      seen = null;
      Channel upstream = ctx.channel();
      ctx.pipeline().remove(this);
      for (ChannelHandler h : downstream.pipeline().toMap().values()) {
        downstream.pipeline().remove(h); // HTTP codecs and handlers: from here on, bytes
      }
      downstream.writeAndFlush(first);
      Relay.start(downstream, upstream, null, null, null);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      if (seen != null) {
        seen.release();
        seen = null;
      }
      if (!answered) {
        answered = true;
        onResponse.accept(0); // closed before a response: the client gets Envoy's 503
      }
    }
  }
}
