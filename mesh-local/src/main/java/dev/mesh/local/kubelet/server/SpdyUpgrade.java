package dev.mesh.local.kubelet.server;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.spdy.SpdyFrameCodec;
import io.netty.handler.codec.spdy.SpdyVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The switch from HTTP/1.1 to SPDY/3.1 as Kubernetes' httpstream does it: the client asks with
 * {@code Upgrade: SPDY/3.1} and offers its stream protocols in {@code X-Stream-Protocol-Version}
 * headers; the server picks the first it knows, answers 101 naming it, and from the next byte on
 * both sides speak SPDY frames.
 */
final class SpdyUpgrade {
  static final String PROTOCOL_HEADER = "X-Stream-Protocol-Version";

  private SpdyUpgrade() {}

  static boolean isUpgrade(FullHttpRequest req) {
    return req.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)
        && "SPDY/3.1".equalsIgnoreCase(req.headers().get(HttpHeaderNames.UPGRADE));
  }

  /** The client's first offered protocol that is among {@code supported}. */
  static Optional<String> negotiate(FullHttpRequest req, List<String> supported) {
    List<String> offered = new ArrayList<>();
    for (String h : req.headers().getAll(PROTOCOL_HEADER)) {
      for (String p : h.split(",")) {
        if (!p.isBlank()) {
          offered.add(p.strip());
        }
      }
    }
    return offered.stream().filter(supported::contains).findFirst();
  }

  /** Answers 400, naming what the server supports, as httpstream.Handshake does. */
  static void refuse(ChannelHandlerContext ctx, FullHttpRequest req, List<String> supported) {
    KubeletHttpHandler.respond(
        ctx,
        req,
        HttpResponseStatus.FORBIDDEN,
        "unable to upgrade: unable to negotiate protocol: client supports "
            + req.headers().getAll(PROTOCOL_HEADER)
            + ", server supports "
            + supported);
  }

  /**
   * Answers 101 with {@code protocol} and turns the connection into a SPDY session; {@code session}
   * then receives every frame.
   */
  static void upgrade(ChannelHandlerContext ctx, String protocol, SpdyConnection session) {
    FullHttpResponse res =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
    res.headers()
        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE)
        .set(HttpHeaderNames.UPGRADE, "SPDY/3.1")
        .set(PROTOCOL_HEADER, protocol);
    // Encoded at once, on this event loop, so no byte read after it reaches the HTTP decoder.
    ctx.writeAndFlush(res);
    ChannelPipeline p = ctx.pipeline();
    p.remove(KubeletHttpHandler.AGGREGATOR);
    p.replace(KubeletHttpHandler.CODEC, "spdy", new SpdyFrameCodec(SpdyVersion.SPDY_3_1));
    p.replace(KubeletHttpHandler.NAME, "spdy-session", session);
  }
}
