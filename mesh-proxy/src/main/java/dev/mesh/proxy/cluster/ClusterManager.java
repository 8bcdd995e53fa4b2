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
  // The ClusterLoadAssignments EDS delivered, by name; EDS clusters take theirs from here.
  private Map<String, io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment> assignments =
      Map.of();

  private final ScheduledExecutorService timer;
  private final dev.mesh.proxy.secret.SecretManager secrets;
  // Clusters waiting for their SDS secrets; the cluster of that name in force (if any) serves.
  private final Map<String, UpstreamCluster> warming = new java.util.LinkedHashMap<>();
  private static final java.util.logging.Logger LOG =
      java.util.logging.Logger.getLogger(ClusterManager.class.getName());

  /** {@code timer} runs the clusters' background work: DNS refresh and health checks. */
  public ClusterManager(
      Stats stats, ScheduledExecutorService timer, dev.mesh.proxy.secret.SecretManager secrets) {
    this.stats = stats;
    this.timer = timer;
    this.secrets = secrets;
  }

  /** The clusters warming for their secrets. */
  public synchronized Collection<UpstreamCluster> warming() {
    return List.copyOf(warming.values());
  }

  public UpstreamCluster get(String name) {
    return clusters.get(name);
  }

  /**
   * The cluster in force, else the one warming for its secrets, else null: what a gRPC client of a
   * static cluster (ADS to a TLS xds-grpc) connects through once its secrets are in.
   */
  public synchronized UpstreamCluster inForceOrWarming(String name) {
    UpstreamCluster c = clusters.get(name);
    return c != null ? c : warming.get(name);
  }

  /**
   * Whether a cluster of that name is in force or warming: a route may name a cluster that waits
   * for its secrets (its requests get NC until it is warm, as with Envoy's warming clusters).
   */
  public synchronized boolean known(String name) {
    return clusters.containsKey(name) || warming.containsKey(name);
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
        UpstreamCluster cluster = new UpstreamCluster(c, stats, secrets);
        // A changed EDS cluster is warm at once when its endpoints are known already.
        var cla =
            c.getType() == Cluster.DiscoveryType.EDS ? assignments.get(cluster.edsName()) : null;
        if (cla != null) {
          cluster.assign(cla);
        }
        fresh.put(c.getName(), cluster);
      }
    }
    warming.keySet().retainAll(names);
    for (var e : fresh.entrySet()) {
      UpstreamCluster cluster = e.getValue();
      if (!cluster.ready()) {
        warming.put(e.getKey(), cluster);
        cluster.onTlsChange(() -> promote(e.getKey(), cluster));
        LOG.info(
            "cluster " + e.getKey() + " warming: waiting for secrets " + cluster.awaitedSecrets());
        continue;
      }
      warming.remove(e.getKey());
      install(e.getKey(), cluster);
    }
    for (var it = clusters.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (!names.contains(e.getKey())) {
        e.getValue().stop();
        it.remove();
      }
    }
  }

  private void install(String name, UpstreamCluster cluster) {
    UpstreamCluster old = clusters.put(name, cluster);
    if (old != null) {
      old.stop();
    }
    cluster.start(stats, timer);
  }

  private volatile Runnable onWarmed = () -> {};

  /** Called (under this manager's lock: hand it off) each time a warming cluster goes in force. */
  public void onWarmed(Runnable callback) {
    this.onWarmed = callback;
  }

  /** A warming cluster whose secrets arrived (or timed out) replaces the one in force. */
  private synchronized void promote(String name, UpstreamCluster cluster) {
    if (warming.get(name) != cluster || !cluster.ready()) {
      return;
    }
    warming.remove(name);
    install(name, cluster);
    LOG.info("cluster " + name + " warmed: its secrets are in force");
    onWarmed.run();
  }

  /**
   * Replaces the ClusterLoadAssignments EDS delivered; each EDS cluster takes the one named by its
   * service_name (or its own name). Refuses the whole update when one is invalid.
   */
  public synchronized void applyEndpoints(
      Map<String, io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment> next) {
    for (var cla : next.values()) {
      validateEndpoints("cluster load assignment " + cla.getClusterName(), cla, true, false);
    }
    List<UpstreamCluster> all = new java.util.ArrayList<>(clusters.values());
    all.addAll(warming.values());
    for (UpstreamCluster c : all) {
      if (c.config().getType() != Cluster.DiscoveryType.EDS) {
        continue;
      }
      var cla = next.get(c.edsName());
      if (cla != null && !cla.equals(assignments.get(c.edsName()))) {
        c.assign(cla);
      }
    }
    assignments = Map.copyOf(next);
  }

  /** The assignments in force from EDS. */
  public synchronized Map<String, io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment>
      assignments() {
    return assignments;
  }

  private static void validate(Cluster c) {
    if (c.getName().isEmpty()) {
      throw new ConfigRejectedException("a cluster needs a name");
    }
    if (c.getType() == Cluster.DiscoveryType.EDS) {
      if (c.hasLoadAssignment()) {
        throw new ConfigRejectedException(
            "cluster "
                + c.getName()
                + ": an EDS cluster takes its endpoints from EDS, not load_assignment");
      }
      if (!c.getEdsClusterConfig().getEdsConfig().hasAds()) {
        throw new ConfigRejectedException(
            "cluster " + c.getName() + ": eds_cluster_config.eds_config must be ads");
      }
    }
    boolean fixed = c.getType() == Cluster.DiscoveryType.STATIC;
    validateEndpoints("cluster " + c.getName(), c.getLoadAssignment(), fixed, fixed);
  }

  /** Endpoints need an IP (or, for a DNS cluster, a name); only a STATIC cluster has pipes. */
  private static void validateEndpoints(
      String what,
      io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment cla,
      boolean ipOnly,
      boolean pipesAllowed) {
    for (LocalityLbEndpoints l : cla.getEndpointsList()) {
      if (l.getPriority() != 0) {
        throw new ConfigRejectedException(
            what + ": endpoint priorities other than 0 are not supported");
      }
      for (LbEndpoint e : l.getLbEndpointsList()) {
        var address = e.getEndpoint().getAddress();
        if (address.hasPipe() && pipesAllowed) {
          continue;
        }
        if (!address.hasSocketAddress()) {
          throw new ConfigRejectedException(what + ": an endpoint needs a socket_address");
        }
        if (ipOnly
            && !dev.mesh.proxy.net.Addresses.isIpLiteral(address.getSocketAddress().getAddress())) {
          throw new ConfigRejectedException(
              what
                  + ": an endpoint must be an IP address, got '"
                  + address.getSocketAddress().getAddress()
                  + "'");
        }
      }
    }
  }
}
