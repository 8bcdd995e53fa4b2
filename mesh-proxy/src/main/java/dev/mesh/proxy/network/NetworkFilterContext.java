package dev.mesh.proxy.network;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.netty.channel.Channel;
import java.util.function.BooleanSupplier;

/**
 * What a network filter's factory may use when it compiles: its listener and direction, the proxy's
 * node, stats and clusters, the upstream socket type, whether the server fails health checks.
 */
public record NetworkFilterContext(
    String listenerName,
    boolean inbound,
    Node node,
    Stats stats,
    ClusterManager clusters,
    Class<? extends Channel> upstreamChannelType,
    BooleanSupplier serverFailing) {}
