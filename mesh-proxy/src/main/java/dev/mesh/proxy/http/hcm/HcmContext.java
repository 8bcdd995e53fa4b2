package dev.mesh.proxy.http.hcm;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.netty.channel.Channel;
import java.util.function.BooleanSupplier;

/**
 * What a connection manager is compiled against: its listener's direction, the proxy's node, stats
 * and clusters, the upstream socket type, and whether the server fails health checks.
 */
public record HcmContext(
    boolean inbound,
    Node node,
    Stats stats,
    ClusterManager clusters,
    Class<? extends Channel> upstreamChannelType,
    BooleanSupplier serverFailing) {}
