package dev.mesh.proxy.cluster;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;
import java.util.function.Consumer;

/**
 * Opens a connection to one of a cluster's hosts the way every upstream needs it: on the caller's
 * event loop, with the cluster's connect timeout, source address (upstream_bind_config) and TLS
 * (transport_socket), then the caller's handlers.
 */
public final class UpstreamConnector {
  private UpstreamConnector() {}

  public static ChannelFuture connect(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      boolean halfClosure,
      Consumer<Channel> handlers) {
    Bootstrap b = new Bootstrap();
    if (cluster.sourceAddress() != null) {
      b.localAddress(cluster.sourceAddress());
    }
    return b.group(loop)
        .channel(channelType)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
        .option(
            ChannelOption.CONNECT_TIMEOUT_MILLIS,
            (int) Math.max(1, cluster.connectTimeout().toMillis()))
        .handler(
            new ChannelInitializer<Channel>() {
              @Override
              protected void initChannel(Channel ch) {
                cluster.addTls(ch, address);
                handlers.accept(ch);
              }
            })
        .connect(address);
  }
}
