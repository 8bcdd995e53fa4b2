package dev.mesh.pilot.xds;

import com.google.protobuf.Message;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * One proxy's whole config (or a part of it shared by many proxies), by xDS type, with a version
 * per type: a digest of that type's resources, so that equal config has equal versions.
 */
public record ProxyResources(
    List<Cluster> clusters,
    List<ClusterLoadAssignment> endpoints,
    List<Listener> listeners,
    List<RouteConfiguration> routes,
    String cdsVersion,
    String edsVersion,
    String ldsVersion,
    String rdsVersion) {

  public static ProxyResources of(
      List<Cluster> clusters,
      List<ClusterLoadAssignment> endpoints,
      List<Listener> listeners,
      List<RouteConfiguration> routes) {
    return new ProxyResources(
        List.copyOf(clusters),
        List.copyOf(endpoints),
        List.copyOf(listeners),
        List.copyOf(routes),
        digest(clusters),
        digest(endpoints),
        digest(listeners),
        digest(routes));
  }

  /** This part and a proxy's own part together; the versions combine the parts' versions. */
  public ProxyResources plus(ProxyResources own) {
    return new ProxyResources(
        concat(clusters, own.clusters),
        concat(endpoints, own.endpoints),
        concat(listeners, own.listeners),
        concat(routes, own.routes),
        cdsVersion + "." + own.cdsVersion,
        edsVersion + "." + own.edsVersion,
        ldsVersion + "." + own.ldsVersion,
        rdsVersion + "." + own.rdsVersion);
  }

  /**
   * This config with some assignments replaced, by cluster name; those of clusters it does not have
   * are left out, as are its other types, which stay as they are.
   */
  public ProxyResources with(java.util.Map<String, ClusterLoadAssignment> assignments) {
    List<ClusterLoadAssignment> next = new ArrayList<>(endpoints.size());
    boolean changed = false;
    for (ClusterLoadAssignment cla : endpoints) {
      ClusterLoadAssignment replacement = assignments.get(cla.getClusterName());
      changed |= replacement != null && !replacement.equals(cla);
      next.add(replacement != null ? replacement : cla);
    }
    if (!changed) {
      return this;
    }
    return new ProxyResources(
        clusters,
        List.copyOf(next),
        listeners,
        routes,
        cdsVersion,
        digest(next),
        ldsVersion,
        rdsVersion);
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    if (b.isEmpty()) {
      return a;
    }
    List<T> out = new ArrayList<>(a.size() + b.size());
    out.addAll(a);
    out.addAll(b);
    return List.copyOf(out);
  }

  static String digest(List<? extends Message> resources) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (Message m : resources) {
        sha.update(m.toByteArray());
      }
      return HexFormat.of().formatHex(sha.digest(), 0, 6);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
