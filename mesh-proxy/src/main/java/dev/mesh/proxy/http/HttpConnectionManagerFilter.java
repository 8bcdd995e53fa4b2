package dev.mesh.proxy.http;

import dev.mesh.proxy.cluster.ClusterManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.CodecType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslHandler;
import java.util.List;

/**
 * Installs an http_connection_manager on an accepted connection, with the codec Envoy would pick:
 * HTTP/1.1, HTTP/2, or for AUTO, HTTP/2 when TLS negotiated "h2" or a plaintext connection opens
 * with the HTTP/2 preface (prior knowledge). Each HTTP/2 stream gets its own exchange.
 */
public final class HttpConnectionManagerFilter {
  private HttpConnectionManagerFilter() {}

  public static void install(
      ChannelPipeline p,
      HttpConnectionManagerConfig hcm,
      ClusterManager clusters,
      Class<? extends Channel> upstreamChannelType) {
    p.addLast(
        new ConnectionLifecycle(
            hcm,
            hcm.idleTimeout().toMillis(),
            hcm.requestHeadersTimeout().toMillis(),
            hcm.streamIdleTimeout().toMillis()));
    CodecType codec = hcm.config.getCodecType();
    if (codec == CodecType.HTTP1) {
      http1(p, hcm, clusters, upstreamChannelType);
    } else if (codec == CodecType.HTTP2) {
      http2(p, hcm, clusters, upstreamChannelType);
    } else if (p.get(SslHandler.class) != null) {
      p.addLast(
          new ApplicationProtocolNegotiationHandler(ApplicationProtocolNames.HTTP_1_1) {
            @Override
            protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
              if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                http2(ctx.pipeline(), hcm, clusters, upstreamChannelType);
              } else {
                http1(ctx.pipeline(), hcm, clusters, upstreamChannelType);
              }
            }
          });
    } else {
      p.addLast(new PriorKnowledge(hcm, clusters, upstreamChannelType));
    }
  }

  static void http1(
      ChannelPipeline p,
      HttpConnectionManagerConfig hcm,
      ClusterManager clusters,
      Class<? extends Channel> upstreamChannelType) {
    p.addLast(new HttpServerCodec(hcm.maxHeaderBytes(), hcm.maxHeaderBytes(), 8192));
    p.addLast(new ConnectionLifecycle.HeadersObserver());
    p.addLast(new HttpServerExpectContinueHandler());
    p.addLast(new BufferOrStream());
    p.addLast(new DownstreamHttpHandler(hcm, clusters, upstreamChannelType));
  }

  static void http2(
      ChannelPipeline p,
      HttpConnectionManagerConfig hcm,
      ClusterManager clusters,
      Class<? extends Channel> upstreamChannelType) {
    // Many streams answer within one read; their frames leave in one write instead of one each.
    p.addLast(new FlushConsolidationHandler(256, true));
    p.addLast(Http2FrameCodecBuilder.forServer().build());
    p.addLast(
        new Http2MultiplexHandler(
            new ChannelInitializer<Http2StreamChannel>() {
              @Override
              protected void initChannel(Http2StreamChannel ch) {
                long idle = hcm.streamIdleTimeout().toMillis();
                if (idle > 0) {
                  ch.pipeline().addLast(new StreamIdleTimer(hcm, idle));
                }
                ch.pipeline()
                    .addLast(new Http2StreamFrameToHttpObjectCodec(true))
                    .addLast(new BufferOrStream())
                    .addLast(new DownstreamHttpHandler(hcm, clusters, upstreamChannelType));
              }
            }));
  }

  /** Waits for enough bytes to tell the HTTP/2 preface from an HTTP/1 request line. */
  private static final class PriorKnowledge extends ByteToMessageDecoder {
    private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
    private final HttpConnectionManagerConfig hcm;
    private final ClusterManager clusters;
    private final Class<? extends Channel> upstreamChannelType;

    PriorKnowledge(
        HttpConnectionManagerConfig hcm,
        ClusterManager clusters,
        Class<? extends Channel> upstreamChannelType) {
      this.hcm = hcm;
      this.clusters = clusters;
      this.upstreamChannelType = upstreamChannelType;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
      boolean prefaceSoFar =
          ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n);
      if (prefaceSoFar && n < PREFACE.readableBytes()) {
        return; // more bytes needed to tell
      }
      // This handler is the last one: the codec goes after it, and removing it hands the codec
      // the bytes read so far.
      ChannelPipeline p = ctx.pipeline();
      if (prefaceSoFar) {
        http2(p, hcm, clusters, upstreamChannelType);
      } else {
        http1(p, hcm, clusters, upstreamChannelType);
      }
      p.remove(this);
    }
  }
}
