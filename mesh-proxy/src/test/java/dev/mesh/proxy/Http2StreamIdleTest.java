package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** stream_idle_timeout on an HTTP/2 stream whose client opens it and then sends nothing. */
class Http2StreamIdleTest {

  @Test
  void anIdleStreamGets408AndTheConnectionCarriesOn() throws Exception {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    try (TestUpstream app = TestUpstream.echo("app");
        ProxyFixture proxy =
            new ProxyFixture(
                Bootstraps.http(
                        """
                        - name: all
                          domains: ["*"]
                          routes: [{match: {prefix: "/"}, route: {cluster: app}}]
                        """,
                        Bootstraps.cluster("app", app.port()))
                    .replace(
                        "stat_prefix: test\n",
                        "stat_prefix: test\n          stream_idle_timeout: 0.3s\n"))) {
      Channel connection =
          new Bootstrap()
              .group(group)
              .channel(NioSocketChannel.class)
              .handler(
                  new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      ch.pipeline()
                          .addLast(Http2FrameCodecBuilder.forClient().build())
                          .addLast(new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    }
                  })
              .connect("127.0.0.1", proxy.port("http"))
              .sync()
              .channel();
      assertThat(status(connection, false).get(10, TimeUnit.SECONDS)).isEqualTo("408");
      // The same connection serves the next stream.
      assertThat(status(connection, true).get(10, TimeUnit.SECONDS)).isEqualTo("200");
      assertThat(proxy.stat("http.test.downstream_rq_idle_timeout")).isEqualTo(1);
      connection.close().sync();
    } finally {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }

  /** Opens a stream with a POST's headers; ends it at once or leaves it open. */
  private static CompletableFuture<String> status(Channel connection, boolean endStream)
      throws InterruptedException {
    CompletableFuture<String> status = new CompletableFuture<>();
    Http2StreamChannel stream =
        new Http2StreamChannelBootstrap(connection)
            .handler(
                new SimpleChannelInboundHandler<Http2HeadersFrame>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, Http2HeadersFrame f) {
                    status.complete(String.valueOf(f.headers().status()));
                  }
                })
            .open()
            .sync()
            .getNow();
    stream.writeAndFlush(
        new DefaultHttp2HeadersFrame(
            new DefaultHttp2Headers().method("POST").path("/").scheme("http").authority("x"),
            endStream));
    return status;
  }
}
