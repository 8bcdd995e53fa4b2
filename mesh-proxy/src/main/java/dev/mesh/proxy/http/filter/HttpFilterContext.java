package dev.mesh.proxy.http.filter;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.netty.channel.Channel;
import java.util.function.BooleanSupplier;

/**
 * What a filter's factory may use when it compiles: the connection manager's stat prefix and
 * direction, the proxy's node, stats and clusters, and whether health checks fail now.
 *
 * @param failingHealthChecks true after /healthcheck/fail and while the listener drains
 * @param upstreamChannelType the socket channel class for upstream connections (epoll or NIO)
 */
public record HttpFilterContext(
    String statPrefix,
    boolean inbound,
    Node node,
    Stats stats,
    ClusterManager clusters,
    BooleanSupplier failingHealthChecks,
    Class<? extends Channel> upstreamChannelType) {}
