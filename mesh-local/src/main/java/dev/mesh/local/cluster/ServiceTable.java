package dev.mesh.local.cluster;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * kube-proxy's part of the node, from Services and their EndpointSlices: the hub's DNAT rules (as
 * kube-proxy's iptables mode spreads a cluster IP's connections over its ready endpoints) and the
 * hosts-file lines that stand in for cluster DNS ({@code <svc>.<ns>.svc.cluster.local}).
 */
final class ServiceTable {
  /** The hub's NAT chain the rules go into; PREROUTING (and OUTPUT) jump to it. */
  static final String CHAIN = "MESH-SERVICES";

  private final String restore;
  private final String hosts;

  private ServiceTable(String restore, String hosts) {
    this.restore = restore;
    this.hosts = hosts;
  }

  /** iptables-restore input replacing the chain's rules. */
  String restore() {
    return restore;
  }

  /** Lines {@code <clusterIP> <svc>.<ns>.svc.cluster.local <svc>.<ns>.svc <svc>.<ns>}. */
  String hosts() {
    return hosts;
  }

  static ServiceTable of(Collection<Service> services, Collection<EndpointSlice> slices) {
    List<String> rules = new ArrayList<>();
    StringBuilder hosts = new StringBuilder();
    List<Service> sorted = new ArrayList<>(services);
    sorted.sort(
        java.util.Comparator.comparing(
            (Service s) -> s.getMetadata().getNamespace() + "/" + s.getMetadata().getName()));
    for (Service s : sorted) {
      String clusterIp = s.getSpec().getClusterIP();
      if (clusterIp == null || clusterIp.isEmpty() || "None".equals(clusterIp)) {
        continue;
      }
      List<EndpointSlice> own =
          slices.stream()
              .filter(
                  e ->
                      Objects.equals(e.getMetadata().getNamespace(), s.getMetadata().getNamespace())
                          && e.getMetadata().getLabels() != null
                          && s.getMetadata()
                              .getName()
                              .equals(
                                  e.getMetadata().getLabels().get("kubernetes.io/service-name")))
              .toList();
      for (ServicePort port : s.getSpec().getPorts()) {
        if (port.getProtocol() != null && !"TCP".equals(port.getProtocol())) {
          continue;
        }
        // Each ready address with the slice's port of the service port's name, once.
        TreeSet<String> targets = new TreeSet<>();
        for (EndpointSlice slice : own) {
          Integer target = portOf(slice, port.getName());
          if (target == null) {
            continue;
          }
          for (Endpoint e : slice.getEndpoints()) {
            boolean ready =
                e.getConditions() == null
                    || e.getConditions().getReady() == null
                    || e.getConditions().getReady();
            if (ready) {
              e.getAddresses().forEach(a -> targets.add(a + ":" + target));
            }
          }
        }
        List<String> each = List.copyOf(targets);
        for (int i = 0; i < each.size(); i++) {
          // Even spread: 1/n, then 1/(n-1), ..., then the last unconditionally.
          String pick =
              i == each.size() - 1
                  ? ""
                  : " -m statistic --mode random --probability " + (1.0 / (each.size() - i));
          rules.add(
              "-A "
                  + CHAIN
                  + " -d "
                  + clusterIp
                  + "/32 -p tcp --dport "
                  + port.getPort()
                  + pick
                  + " -j DNAT --to-destination "
                  + each.get(i));
        }
      }
      String svc = s.getMetadata().getName() + "." + s.getMetadata().getNamespace();
      hosts
          .append(clusterIp)
          .append(' ')
          .append(svc)
          .append(".svc.cluster.local ")
          .append(svc)
          .append(".svc ")
          .append(svc)
          .append('\n');
    }
    StringBuilder restore = new StringBuilder("*nat\n:" + CHAIN + " - [0:0]\n");
    rules.forEach(r -> restore.append(r).append('\n'));
    restore.append("COMMIT\n");
    return new ServiceTable(restore.toString(), hosts.toString());
  }

  private static Integer portOf(EndpointSlice slice, String name) {
    if (slice.getPorts() == null) {
      return null;
    }
    for (EndpointPort p : slice.getPorts()) {
      String n = p.getName() == null ? "" : p.getName();
      if (n.equals(name == null ? "" : name)) {
        return p.getPort();
      }
    }
    return null;
  }

  /**
   * A pod's hosts file: localhost, its own name, and every service, the short name resolving in the
   * pod's own namespace only, as with the pod's DNS search path.
   */
  static String hostsFile(String podIp, String podName, String namespace, String serviceHosts) {
    StringBuilder b = new StringBuilder("127.0.0.1 localhost\n");
    b.append(podIp).append(' ').append(podName).append('\n');
    for (String line : serviceHosts.split("\n")) {
      if (line.isBlank()) {
        continue;
      }
      String[] f = line.split(" ");
      String shortName =
          f[3].endsWith("." + namespace)
              ? " " + f[3].substring(0, f[3].length() - namespace.length() - 1)
              : "";
      b.append(line).append(shortName).append('\n');
    }
    return b.toString();
  }
}
