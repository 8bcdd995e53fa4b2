package dev.mesh.proxy.cluster;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The clusters in force. A new set replaces the old whole, and a cluster whose config did not
 * change is kept as it is, with its stats and state; the xDS client will feed it the same way.
 */
public final class ClusterManager {
  private final Stats stats;
  private final Map<String, UpstreamCluster> clusters = new ConcurrentHashMap<>();

  private final ScheduledExecutorService timer;

  /** {@code timer} runs the clusters' background work: DNS refresh and health checks. */
  public ClusterManager(Stats stats, ScheduledExecutorService timer) {
    this.stats = stats;
    this.timer = timer;
  }

  public UpstreamCluster get(String name) {
    return clusters.get(name);
  }

  public Collection<UpstreamCluster> all() {
    return clusters.values();
  }

  /** Replaces the cluster set; refuses the whole set when any cluster is invalid. */
  public synchronized void apply(List<Cluster> configs) {
    Set<String> names = new HashSet<>();
    for (Cluster c : configs) {
      validate(c);
      if (!names.add(c.getName())) {
        throw new ConfigRejectedException("duplicate cluster name '" + c.getName() + "'");
      }
    }
    // Build every new cluster before changing anything: a failure leaves the old set serving.
    Map<String, UpstreamCluster> fresh = new java.util.HashMap<>();
    for (Cluster c : configs) {
      UpstreamCluster current = clusters.get(c.getName());
      if (current == null || !current.config().equals(c)) {
        fresh.put(c.getName(), new UpstreamCluster(c, stats));
      }
    }
    for (var e : fresh.entrySet()) {
      UpstreamCluster old = clusters.put(e.getKey(), e.getValue());
      if (old != null) {
        old.stop();
      }
      e.getValue().start(stats, timer);
    }
    for (var it = clusters.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (!names.contains(e.getKey())) {
        e.getValue().stop();
        it.remove();
      }
    }
  }

  private static void validate(Cluster c) {
    if (c.getName().isEmpty()) {
      throw new ConfigRejectedException("a cluster needs a name");
    }
    for (LocalityLbEndpoints l : c.getLoadAssignment().getEndpointsList()) {
      if (l.getPriority() != 0) {
        throw new ConfigRejectedException(
            "cluster " + c.getName() + ": endpoint priorities other than 0 are not supported");
      }
      for (LbEndpoint e : l.getLbEndpointsList()) {
        var address = e.getEndpoint().getAddress();
        if (!address.hasSocketAddress()) {
          throw new ConfigRejectedException(
              "cluster " + c.getName() + ": an endpoint needs a socket_address");
        }
        if (c.getType() == Cluster.DiscoveryType.STATIC
            && !dev.mesh.proxy.net.Addresses.isIpLiteral(address.getSocketAddress().getAddress())) {
          throw new ConfigRejectedException(
              "cluster "
                  + c.getName()
                  + ": a STATIC cluster's endpoint must be an IP address, got '"
                  + address.getSocketAddress().getAddress()
                  + "'");
        }
      }
    }
  }
}
