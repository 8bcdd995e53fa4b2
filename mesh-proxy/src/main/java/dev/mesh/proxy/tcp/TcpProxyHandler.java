package dev.mesh.proxy.tcp;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.listener.OriginalDestination;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Envoy's tcp_proxy: each downstream connection gets one upstream connection to an endpoint of the
 * cluster, opened on the downstream's event loop; bytes are relayed with back-pressure (read the
 * next chunk only once the last one is written), as in Netty's proxy example.
 */
public final class TcpProxyHandler extends ChannelInboundHandlerAdapter {
  private final TcpProxy config;
  private final ClusterManager clusters;
  private final Class<? extends Channel> channelType;
  private final Stats.Counter cxTotal;
  private final Stats.Counter cxNoRoute;
  private final Stats.Counter rxBytes;
  private final Stats.Counter txBytes;
  private final Stats.Counter idleTimeouts;
  private Channel upstream;
  // Bytes that arrive before the upstream connects: a sniffing listener replays what it read.
  private final java.util.ArrayDeque<Object> early = new java.util.ArrayDeque<>();
  private final HalfClose halfClose = new HalfClose();

  public TcpProxyHandler(
      TcpProxy config, ClusterManager clusters, Class<? extends Channel> channelType, Stats stats) {
    this.config = config;
    this.clusters = clusters;
    this.channelType = channelType;
    Stats.Scope s = Stats.Scope.tcp(config.getStatPrefix());
    this.cxTotal = stats.counter(s, "downstream_cx_total");
    this.cxNoRoute = stats.counter(s, "downstream_cx_no_route");
    this.rxBytes = stats.counter(s, "downstream_cx_rx_bytes_total");
    this.txBytes = stats.counter(s, "downstream_cx_tx_bytes_total");
    this.idleTimeouts = stats.counter(s, "idle_timeout");
  }

  private String pickClusterName() {
    if (config.hasWeightedClusters()) {
      var all = config.getWeightedClusters().getClustersList();
      long total = all.stream().mapToLong(c -> c.getWeight()).sum();
      if (total > 0) {
        long r = ThreadLocalRandom.current().nextLong(total);
        for (var c : all) {
          r -= c.getWeight();
          if (r < 0) {
            return c.getName();
          }
        }
      }
    }
    return config.getCluster();
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    cxTotal.inc();
    Channel downstream = ctx.channel();
    downstream.config().setAutoRead(false);
    UpstreamCluster cluster = clusters.get(pickClusterName());
    Endpoint endpoint =
        cluster == null ? null : cluster.pick(OriginalDestination.recorded(downstream));
    if (endpoint == null) {
      cxNoRoute.inc();
      downstream.close();
      return;
    }
    cluster.stats().cxTotal.inc();
    cluster.stats().cxActive.inc();
    Bootstrap b = new Bootstrap();
    if (cluster.sourceAddress() != null) {
      b.localAddress(cluster.sourceAddress());
    }
    b.group(downstream.eventLoop())
        .channel(channelType)
        .option(ChannelOption.AUTO_READ, false)
        .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(
            ChannelOption.CONNECT_TIMEOUT_MILLIS,
            (int) Math.max(1, cluster.connectTimeout().toMillis()))
        .handler(
            new io.netty.channel.ChannelInitializer<Channel>() {
              @Override
              protected void initChannel(Channel ch) {
                cluster.addTls(ch, endpoint.address());
                ch.pipeline().addLast(new Relay(downstream, txBytes, halfClose));
              }
            })
        .connect(endpoint.address())
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (f.isSuccess()) {
                    upstream = f.channel();
                    while (!early.isEmpty()) {
                      upstream.write(early.poll());
                    }
                    upstream.flush();
                    halfClose.upstream = upstream;
                    halfClose.downstream = downstream;
                    upstream.closeFuture().addListener(c -> cluster.stats().cxActive.dec());
                    downstream.read();
                    upstream.read();
                  } else {
                    cluster.stats().cxActive.dec();
                    cluster.stats().cxConnectFail.inc();
                    downstream.close();
                  }
                });
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf b) {
      rxBytes.add(b.readableBytes());
    }
    if (upstream == null) {
      early.add(msg);
      return;
    }
    upstream
        .writeAndFlush(msg)
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (f.isSuccess()) {
                    ctx.channel().read();
                  } else {
                    f.channel().close();
                  }
                });
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    // Envoy's tcp_proxy idle_timeout: one hour unless set; zero disables it.
    long idleMillis =
        config.hasIdleTimeout()
            ? config.getIdleTimeout().getSeconds() * 1000
                + config.getIdleTimeout().getNanos() / 1_000_000
            : 3_600_000;
    if (idleMillis > 0) {
      ctx.pipeline()
          .addBefore(
              ctx.name(),
              null,
              new io.netty.handler.timeout.IdleStateHandler(
                  0, 0, idleMillis, java.util.concurrent.TimeUnit.MILLISECONDS));
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof ChannelInputShutdownEvent) {
      halfClose.downstreamFinished();
      return;
    }
    if (evt instanceof io.netty.handler.timeout.IdleStateEvent) {
      idleTimeouts.inc();
      ctx.channel().close();
      if (upstream != null) {
        upstream.close();
      }
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    while (!early.isEmpty()) {
      io.netty.util.ReferenceCountUtil.release(early.poll());
    }
    if (upstream != null) {
      closeOnFlush(upstream);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    closeOnFlush(ctx.channel());
  }

  static void closeOnFlush(Channel ch) {
    if (ch.isActive()) {
      ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** The upstream side: relays to the downstream with the same back-pressure. */
  private static final class Relay extends ChannelInboundHandlerAdapter {
    private final Channel downstream;
    private final Stats.Counter txBytes;
    private final HalfClose halfClose;

    Relay(Channel downstream, Stats.Counter txBytes, HalfClose halfClose) {
      this.downstream = downstream;
      this.txBytes = txBytes;
      this.halfClose = halfClose;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof ChannelInputShutdownEvent) {
        halfClose.upstreamFinished();
        return;
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof ByteBuf b) {
        txBytes.add(b.readableBytes());
      }
      downstream
          .writeAndFlush(msg)
          .addListener(
              (ChannelFutureListener)
                  f -> {
                    if (f.isSuccess()) {
                      ctx.channel().read();
                    } else {
                      f.channel().close();
                    }
                  });
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      closeOnFlush(downstream);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      closeOnFlush(ctx.channel());
    }
  }

  /**
   * Half-close as Envoy's tcp_proxy does it: a FIN from one side is passed on as a FIN to the other
   * once what was read before it is written, and the pair closes when both sides are done. Both
   * channels live on one event loop, so this needs no locking.
   */
  private static final class HalfClose {
    Channel downstream;
    Channel upstream;
    private boolean downstreamDone;
    private boolean upstreamDone;

    void downstreamFinished() {
      downstreamDone = true;
      finish(upstream);
    }

    void upstreamFinished() {
      upstreamDone = true;
      finish(downstream);
    }

    private void finish(Channel other) {
      if (downstreamDone && upstreamDone) {
        closeOnFlush(downstream);
        closeOnFlush(upstream);
      } else if (other instanceof DuplexChannel d && d.isActive()) {
        d.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> d.shutdownOutput());
      }
    }
  }
}
