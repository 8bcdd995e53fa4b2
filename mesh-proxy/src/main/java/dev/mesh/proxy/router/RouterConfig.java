package dev.mesh.proxy.router;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.stats.Stats;
import io.netty.channel.Channel;

/** The router of one connection manager: where clusters are found, and its stats. */
final class RouterConfig {
  final ClusterManager clusters;
  final Class<? extends Channel> upstreamChannelType;
  final Stats.Counter noRoute;
  final Stats.Counter rqTimeout;

  RouterConfig(HttpFilterContext context) {
    this.clusters = context.clusters();
    this.upstreamChannelType = context.upstreamChannelType();
    Stats.Scope s = Stats.Scope.http(context.statPrefix());
    this.noRoute = context.stats().counter(s, "no_route");
    this.rqTimeout = context.stats().counter(s, "downstream_rq_timeout");
  }
}
