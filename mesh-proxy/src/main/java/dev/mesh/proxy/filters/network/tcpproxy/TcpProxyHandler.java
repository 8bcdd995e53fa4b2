package dev.mesh.proxy.filters.network.tcpproxy;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.cluster.UpstreamConnector;
import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.network.Relay;
import dev.mesh.proxy.stats.Stats;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.stream.ResponseFlag;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's tcp_proxy: each downstream connection gets one upstream connection to an endpoint of the
 * cluster, opened on the downstream's event loop; once it is up, this handler gives way to a {@link
 * Relay}. Bytes that arrive before then (a sniffing listener replays what it read) wait.
 */
final class TcpProxyHandler extends ChannelInboundHandlerAdapter {
  private final TcpProxy config;
  private final ClusterManager clusters;
  private final Class<? extends Channel> channelType;
  private final Stats.Counter cxTotal;
  private final Stats.Counter cxNoRoute;
  private final Stats.Counter rxBytes;
  private final Stats.Counter txBytes;
  private final Stats.Counter idleTimeouts;
  private final ArrayDeque<Object> early = new ArrayDeque<>();
  private ConnectionInfo info;
  private boolean finishedEarly;

  TcpProxyHandler(
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
  public void handlerAdded(ChannelHandlerContext ctx) {
    info = ConnectionInfo.of(ctx.channel());
    // Envoy's tcp_proxy idle_timeout: one hour unless set; zero disables it.
    long idleMillis =
        ProtoDurations.orDefault(
                config.hasIdleTimeout(), config.getIdleTimeout(), java.time.Duration.ofHours(1))
            .toMillis();
    if (idleMillis > 0) {
      ctx.pipeline()
          .addBefore(
              ctx.name(), null, new IdleStateHandler(0, 0, idleMillis, TimeUnit.MILLISECONDS));
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    cxTotal.inc();
    Channel downstream = ctx.channel();
    downstream.config().setAutoRead(false);
    String clusterName = pickClusterName();
    UpstreamCluster cluster = clusters.get(clusterName);
    Endpoint endpoint = cluster == null ? null : cluster.pick(info.localAddress());
    if (endpoint == null) {
      cxNoRoute.inc();
      info.addResponseFlag(
          cluster == null ? ResponseFlag.NO_CLUSTER_FOUND : ResponseFlag.NO_HEALTHY_UPSTREAM);
      downstream.close();
      return;
    }
    cluster.stats().cxTotal.inc();
    cluster.stats().cxActive.inc();
    UpstreamConnector.connect(
            downstream.eventLoop(),
            channelType,
            cluster,
            endpoint.address(),
            true,
            ch -> ch.config().setAutoRead(false))
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (!f.isSuccess()) {
                    cluster.stats().cxActive.dec();
                    cluster.stats().cxConnectFail.inc();
                    info.addResponseFlag(ResponseFlag.UPSTREAM_CONNECTION_FAILURE);
                    downstream.close();
                    return;
                  }
                  Channel upstream = f.channel();
                  upstream.closeFuture().addListener(c -> cluster.stats().cxActive.dec());
                  info.upstreamConnected(clusterName, endpoint.toString());
                  if (!downstream.isActive()) {
                    upstream.close();
                    return;
                  }
                  while (!early.isEmpty()) {
                    upstream.write(early.poll());
                  }
                  upstream.flush();
                  ctx.pipeline().remove(this);
                  Relay.start(
                      downstream,
                      upstream,
                      n -> {
                        rxBytes.add(n);
                        info.addBytesReceived(n);
                      },
                      n -> {
                        txBytes.add(n);
                        info.addBytesSent(n);
                      },
                      idleTimeouts);
                  if (finishedEarly) {
                    downstream
                        .pipeline()
                        .fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
                  }
                });
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf b) {
      rxBytes.add(b.readableBytes());
      info.addBytesReceived(b.readableBytes());
    }
    early.add(msg);
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof ChannelInputShutdownEvent) {
      finishedEarly = true;
    } else if (evt instanceof IdleStateEvent) {
      idleTimeouts.inc();
      ctx.close();
    } else {
      super.userEventTriggered(ctx, evt);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    while (!early.isEmpty()) {
      ReferenceCountUtil.release(early.poll());
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
