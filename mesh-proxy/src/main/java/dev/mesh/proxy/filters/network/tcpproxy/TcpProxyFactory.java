package dev.mesh.proxy.filters.network.tcpproxy;

import com.google.protobuf.Message;
import dev.mesh.proxy.network.NetworkFilter;
import dev.mesh.proxy.network.NetworkFilterContext;
import dev.mesh.proxy.network.NetworkFilterFactory;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.netty.channel.ChannelOption;

/** envoy.filters.network.tcp_proxy: each connection relayed to one host of the cluster. */
public final class TcpProxyFactory implements NetworkFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.network.tcp_proxy";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + TcpProxy.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return TcpProxy.getDefaultInstance();
  }

  @Override
  public String supportedFields() {
    return """
        envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy: stat_prefix cluster \\
          weighted_clusters idle_timeout
        envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster: clusters
        envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.WeightedCluster.ClusterWeight: \\
          name weight
        """;
  }

  @Override
  public boolean terminal() {
    return true;
  }

  @Override
  public NetworkFilter compile(Message config, NetworkFilterContext context) {
    TcpProxy tcp = (TcpProxy) config;
    return (ch, info) -> {
      ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
      ch.pipeline()
          .addLast(
              new TcpProxyHandler(
                  tcp, context.clusters(), context.upstreamChannelType(), context.stats()));
    };
  }
}
