package dev.mesh.pilot.security;

import dev.mesh.api.NodeId;
import dev.mesh.pilot.model.ServiceIndex;
import dev.mesh.pilot.registry.FileRegistry;
import dev.mesh.pilot.xds.Problems;
import dev.mesh.pilot.xds.ProxyResources;
import dev.mesh.pilot.xds.SidecarGenerator;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Istio-shaped YAML read by pilot's own file registry and translated by its generator for one
 * sidecar: what the security tests look at.
 */
final class Translation {
  private Translation() {}

  static ProxyResources of(Path dir, String yaml, String ip, String pod, String namespace)
      throws Exception {
    return of(dir, yaml, ip, pod, namespace, SecuritySettings.DEFAULTS);
  }

  static ProxyResources of(
      Path dir, String yaml, String ip, String pod, String namespace, SecuritySettings settings)
      throws Exception {
    Files.writeString(dir.resolve("mesh.yaml"), yaml);
    try (FileRegistry registry = new FileRegistry(dir)) {
      registry.start(() -> {});
      ServiceIndex index = new ServiceIndex(registry.current(), "cluster.local");
      return new SidecarGenerator(new Problems(), settings)
          .generate(index, NodeId.sidecar(ip, pod, namespace));
    }
  }

  static Listener listener(ProxyResources r, String name) {
    return r.listeners().stream().filter(l -> l.getName().equals(name)).findFirst().orElseThrow();
  }

  static List<FilterChain> chains(ProxyResources r, int port) {
    return listener(r, "virtualInbound").getFilterChainsList().stream()
        .filter(c -> c.getFilterChainMatch().getDestinationPort().getValue() == port)
        .toList();
  }

  static Cluster cluster(ProxyResources r, String name) {
    return r.clusters().stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow();
  }

  static ClusterLoadAssignment endpoints(ProxyResources r, String name) {
    return r.endpoints().stream()
        .filter(c -> c.getClusterName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  /** A service {@code name} in {@code ns} with one pod at {@code ip}, labelled as given. */
  static String workload(
      String name, String ns, String ip, String sa, String labels, String ports) {
    return """
        apiVersion: v1
        kind: Service
        metadata: {name: %1$s, namespace: %2$s}
        spec:
          clusterIP: 10.96.%5$s
          ports: [%6$s]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: %1$s-1, namespace: %2$s, labels: {app: %1$s%4$s}}
        spec:
          serviceAccountName: %7$s
          containers: [{name: app, image: app}]
        status: {podIP: "%3$s"}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: %1$s-a, namespace: %2$s, labels: {kubernetes.io/service-name: %1$s}}
        addressType: IPv4
        ports: [%6$s]
        endpoints: [{addresses: ["%3$s"]}]
        ---
        """
        .formatted(
            name,
            ns,
            ip,
            labels.isEmpty() ? "" : ", " + labels,
            ip.substring(ip.indexOf('.', ip.indexOf('.') + 1) + 1),
            ports,
            sa);
  }
}
