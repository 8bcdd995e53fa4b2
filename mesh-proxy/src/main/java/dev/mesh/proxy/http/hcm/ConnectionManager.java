package dev.mesh.proxy.http.hcm;

import dev.mesh.proxy.http.codec.Http1ServerCodec;
import dev.mesh.proxy.http.codec.Http2ServerCodec;
import dev.mesh.proxy.http.codec.ServerConnectionCallbacks;
import dev.mesh.proxy.http.codec.ServerStream;
import dev.mesh.proxy.http.codec.StreamDecoder;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.CodecType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ApplicationProtocolNegotiationHandler;
import io.netty.handler.ssl.SslHandler;
import java.util.List;

/**
 * Envoy's HTTP connection manager for one downstream connection: the codec Envoy would pick
 * (HTTP/1.1, HTTP/2, or for AUTO, HTTP/2 when TLS negotiated "h2" or a plaintext connection opens
 * with the HTTP/2 preface), and a stream with its own filter chain for each request the codec
 * decodes.
 */
public final class ConnectionManager implements ServerConnectionCallbacks {
  final HcmConfig config;
  final Channel connection;
  final ConnectionInfo info;
  final ConnectionLifecycle lifecycle;
  final boolean tls;

  private ConnectionManager(HcmConfig config, Channel connection, ConnectionLifecycle lifecycle) {
    this.config = config;
    this.connection = connection;
    this.info = ConnectionInfo.of(connection);
    this.lifecycle = lifecycle;
    this.tls = connection.pipeline().get(SslHandler.class) != null;
  }

  /** Installs the connection manager on an accepted connection. */
  public static void install(Channel ch, HcmConfig hcm) {
    ChannelPipeline p = ch.pipeline();
    ConnectionLifecycle lifecycle =
        new ConnectionLifecycle(
            hcm,
            hcm.idleTimeout().toMillis(),
            hcm.requestHeadersTimeout().toMillis(),
            hcm.streamIdleTimeout().toMillis());
    p.addLast(lifecycle);
    ConnectionManager cm = new ConnectionManager(hcm, ch, lifecycle);
    CodecType codec = hcm.config.getCodecType();
    if (codec == CodecType.HTTP1) {
      cm.http1(p);
    } else if (codec == CodecType.HTTP2) {
      cm.http2(p);
    } else if (cm.tls) {
      p.addLast(
          new ApplicationProtocolNegotiationHandler(ApplicationProtocolNames.HTTP_1_1) {
            @Override
            protected void configurePipeline(ChannelHandlerContext ctx, String protocol) {
              if (ApplicationProtocolNames.HTTP_2.equals(protocol)) {
                cm.http2(ctx.pipeline());
              } else {
                cm.http1(ctx.pipeline());
              }
            }
          });
    } else {
      p.addLast(new PriorKnowledge(cm));
    }
  }

  private void http1(ChannelPipeline p) {
    p.addLast(new HttpServerCodec(config.maxHeaderBytes(), config.maxHeaderBytes(), 8192));
    p.addLast(new ConnectionLifecycle.HeadersObserver());
    p.addLast(new HttpServerExpectContinueHandler());
    p.addLast(new Http1ServerCodec(this));
  }

  private void http2(ChannelPipeline p) {
    p.addLast(Http2FrameCodecBuilder.forServer().build());
    p.addLast(new Http2ServerCodec(this));
  }

  @Override
  public StreamDecoder newStream(ServerStream stream) {
    return new ActiveStream(this, stream);
  }

  /** Waits for enough bytes to tell the HTTP/2 preface from an HTTP/1 request line. */
  private static final class PriorKnowledge extends ByteToMessageDecoder {
    private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
    private final ConnectionManager cm;

    PriorKnowledge(ConnectionManager cm) {
      this.cm = cm;
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
        cm.http2(p);
      } else {
        cm.http1(p);
      }
      p.remove(this);
    }
  }
}
