package dev.mesh.pilot.model;

import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.ServiceEntry;
import dev.mesh.config.networking.ServiceEntrySpec;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.pilot.registry.MeshSnapshot;
import io.fabric8.kubernetes.api.model.EndpointAddress;
import io.fabric8.kubernetes.api.model.EndpointPort;
import io.fabric8.kubernetes.api.model.EndpointSubset;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The mesh as the translation needs it, indexed once per change: services by hostname, the
 * endpoints of each service port with their pods' labels, and the routing rules by host.
 */
public final class ServiceIndex {
  private final String domain;
  private final Map<String, MeshService> services = new LinkedHashMap<>();
  private final Map<String, List<Instance>> instances = new HashMap<>();
  private final Map<String, Pod> podsByIp = new HashMap<>();
  // Running pods by "namespace/label=value", to find the pods a service's selector picks.
  private final Map<String, List<Pod>> podsByLabel = new HashMap<>();
  // EndpointSlices by "namespace/service", their kubernetes.io/service-name label.
  private final Map<String, List<EndpointSlice>> slicesByService = new HashMap<>();
  // The workload ports at each address: what a proxy at that address serves inbound.
  private final Map<String, Map<Integer, Protocol>> portsByAddress = new HashMap<>();
  private final Map<String, List<VirtualService>> virtualServices = new HashMap<>();
  private final Map<String, DestinationRule> destinationRules = new HashMap<>();
  private final MeshSnapshot snapshot;
  private final Map<String, Object> memo = new java.util.concurrent.ConcurrentHashMap<>();

  public ServiceIndex(MeshSnapshot snapshot, String domain) {
    this.snapshot = snapshot;
    this.domain = domain;
    for (EndpointSlice slice : snapshot.endpointSlices()) {
      var labels = slice.getMetadata().getLabels();
      String service = labels == null ? null : labels.get("kubernetes.io/service-name");
      if (service != null) {
        slicesByService
            .computeIfAbsent(
                slice.getMetadata().getNamespace() + "/" + service, k -> new ArrayList<>())
            .add(slice);
      }
    }
    for (Pod p : snapshot.pods()) {
      if (p.getStatus() != null && p.getStatus().getPodIP() != null) {
        podsByIp.put(p.getStatus().getPodIP(), p);
        String phase = p.getStatus().getPhase();
        if (p.getMetadata().getLabels() != null
            && !"Succeeded".equals(phase)
            && !"Failed".equals(phase)) {
          for (var l : p.getMetadata().getLabels().entrySet()) {
            podsByLabel
                .computeIfAbsent(
                    p.getMetadata().getNamespace() + "/" + l.getKey() + "=" + l.getValue(),
                    k -> new ArrayList<>())
                .add(p);
          }
        }
      }
    }
    for (Service s : snapshot.services()) {
      addService(s);
    }
    for (ServiceEntry se : snapshot.serviceEntries()) {
      addServiceEntry(se);
    }
    for (VirtualService vs : snapshot.virtualServices()) {
      String ns = vs.getMetadata().getNamespace();
      if (vs.getSpec().gateways != null
          && !vs.getSpec().gateways.isEmpty()
          && !vs.getSpec().gateways.contains("mesh")) {
        continue; // bound to gateways only, not to sidecars
      }
      for (String host : vs.getSpec().hosts) {
        virtualServices.computeIfAbsent(fqdn(host, ns), h -> new ArrayList<>()).add(vs);
      }
    }
    for (DestinationRule dr : snapshot.destinationRules()) {
      destinationRules.putIfAbsent(fqdn(dr.getSpec().host, dr.getMetadata().getNamespace()), dr);
    }
  }

  /**
   * A value derived from this index, made once: config that many proxies share (all those of a
   * namespace and Sidecar scope) is generated once per change, not once per proxy.
   */
  @SuppressWarnings("unchecked")
  public <T> T memo(String key, java.util.function.Supplier<T> make) {
    Object v = memo.get(key);
    if (v == null) {
      v = make.get();
      Object raced = memo.putIfAbsent(key, v);
      if (raced != null) {
        v = raced;
      }
    }
    return (T) v;
  }

  public MeshSnapshot snapshot() {
    return snapshot;
  }

  public String domain() {
    return domain;
  }

  /** A short name ("reviews", "reviews.ns") completed as Istio does, relative to a namespace. */
  public String fqdn(String host, String namespace) {
    if (host.contains("*") || services.containsKey(host) && host.contains(".")) {
      return host;
    }
    String[] parts = host.split("\\.");
    if (parts.length == 1) {
      return host + "." + namespace + ".svc." + domain;
    }
    if (parts.length == 2) {
      return host + ".svc." + domain;
    }
    return host;
  }

  public Iterable<MeshService> services() {
    return services.values();
  }

  public MeshService service(String hostname) {
    return services.get(hostname);
  }

  public List<Instance> instances(MeshService service, MeshService.ServicePort port) {
    return instances.getOrDefault(key(service.hostname(), port.port()), List.of());
  }

  public Pod podByIp(String ip) {
    return podsByIp.get(ip);
  }

  public List<VirtualService> virtualServices(String hostname) {
    return virtualServices.getOrDefault(hostname, List.of());
  }

  public DestinationRule destinationRule(String hostname) {
    return destinationRules.get(hostname);
  }

  private static String key(String host, int port) {
    return host + ":" + port;
  }

  private void addService(Service s) {
    String ns = s.getMetadata().getNamespace();
    String host = s.getMetadata().getName() + "." + ns + ".svc." + domain;
    List<MeshService.ServicePort> ports = new ArrayList<>();
    for (var p : s.getSpec().getPorts()) {
      int target =
          p.getTargetPort() == null
              ? p.getPort()
              : p.getTargetPort().getIntVal() != null ? p.getTargetPort().getIntVal() : 0;
      ports.add(
          new MeshService.ServicePort(
              p.getName(), p.getPort(), target, Protocol.of(p.getAppProtocol(), p.getName())));
    }
    String ip = s.getSpec().getClusterIP();
    MeshService service =
        new MeshService(
            host,
            s.getMetadata().getName(),
            ns,
            ip == null || ip.isEmpty() || ip.equals("None") ? null : ip,
            List.copyOf(ports),
            MeshService.Resolution.EDS,
            false);
    services.put(host, service);
    for (MeshService.ServicePort port : ports) {
      instances.put(key(host, port.port()), readyEndpoints(s, port));
    }
    addSelectedPods(s, ports);
  }

  /**
   * The service's ports on every running pod its selector picks, ready or not, as Istio builds a
   * proxy's inbound from the services selecting its pod: a pod that is not ready yet, or is
   * terminating and out of the ready endpoints, still serves the requests sent to it, and must keep
   * its inbound listener and clusters while it drains.
   */
  private void addSelectedPods(Service s, List<MeshService.ServicePort> ports) {
    Map<String, String> selector = s.getSpec().getSelector();
    if (selector == null || selector.isEmpty()) {
      return;
    }
    String ns = s.getMetadata().getNamespace();
    var first = selector.entrySet().iterator().next();
    for (Pod pod :
        podsByLabel.getOrDefault(ns + "/" + first.getKey() + "=" + first.getValue(), List.of())) {
      if (!dev.mesh.config.LabelSelectors.matches(selector, pod.getMetadata().getLabels())) {
        continue;
      }
      for (int i = 0; i < ports.size(); i++) {
        MeshService.ServicePort port = ports.get(i);
        Integer target =
            port.targetPort() != 0
                ? Integer.valueOf(port.targetPort())
                : containerPort(pod, s.getSpec().getPorts().get(i).getTargetPort().getStrVal());
        if (target != null) {
          addWorkloadPort(pod.getStatus().getPodIP(), target, port.protocol());
        }
      }
    }
  }

  /** The number of a pod's container port named {@code name} (a named targetPort), or null. */
  private static Integer containerPort(Pod pod, String name) {
    for (var c : pod.getSpec().getContainers()) {
      if (c.getPorts() != null) {
        for (var p : c.getPorts()) {
          if (p.getName() != null && p.getName().equals(name)) {
            return p.getContainerPort();
          }
        }
      }
    }
    return null;
  }

  private void addWorkloadPort(String address, int port, Protocol protocol) {
    portsByAddress
        .computeIfAbsent(address, a -> new java.util.TreeMap<>())
        .merge(port, protocol, (a, b) -> a);
  }

  /**
   * The services whose endpoints are all that changed since an earlier index, by hostname; null
   * when anything else changed too (services, pods, mesh resources), which needs a full push. An
   * endpoint change is the most frequent change in a mesh, and this lets it be pushed as EDS alone
   * without generating everything again.
   */
  public java.util.Set<String> endpointChangesSince(ServiceIndex old) {
    MeshSnapshot a = old.snapshot;
    MeshSnapshot b = snapshot;
    if (!a.services().equals(b.services())
        || !a.pods().equals(b.pods())
        || !a.namespaces().equals(b.namespaces())
        || !a.virtualServices().equals(b.virtualServices())
        || !a.destinationRules().equals(b.destinationRules())
        || !a.serviceEntries().equals(b.serviceEntries())
        || !a.sidecars().equals(b.sidecars())
        || !a.peerAuthentications().equals(b.peerAuthentications())
        || !a.authorizationPolicies().equals(b.authorizationPolicies())
        || !old.services.keySet().equals(services.keySet())) {
      return null;
    }
    java.util.Set<String> moved = new java.util.TreeSet<>();
    for (MeshService s : services.values()) {
      for (MeshService.ServicePort port : s.ports()) {
        String key = key(s.hostname(), port.port());
        if (!old.instances
            .getOrDefault(key, List.of())
            .equals(instances.getOrDefault(key, List.of()))) {
          moved.add(s.hostname());
        }
      }
    }
    return moved;
  }

  /** The ports the workload at an address serves for services, each with whether it is HTTP. */
  public Map<Integer, Protocol> workloadPorts(String address) {
    return portsByAddress.getOrDefault(address, Map.of());
  }

  /**
   * The ready endpoints of a service port (where traffic goes), from EndpointSlices, else from
   * Endpoints; every endpoint, terminating and not yet ready too, is recorded as a workload serving
   * the port.
   */
  private List<Instance> readyEndpoints(Service s, MeshService.ServicePort port) {
    String name = s.getMetadata().getName();
    String ns = s.getMetadata().getNamespace();
    List<Instance> out = new ArrayList<>();
    boolean sliced = false;
    for (EndpointSlice slice : slicesByService.getOrDefault(ns + "/" + name, List.of())) {
      sliced = true;
      Integer number = null;
      for (var p : slice.getPorts()) {
        if (java.util.Objects.equals(p.getName(), port.name())
            || slice.getPorts().size() == 1 && port.name() == null) {
          number = p.getPort();
        }
      }
      if (number == null) {
        continue;
      }
      for (var e : slice.getEndpoints()) {
        boolean ready =
            e.getConditions() == null || !Boolean.FALSE.equals(e.getConditions().getReady());
        for (String address : e.getAddresses()) {
          addWorkloadPort(address, number, port.protocol());
          if (ready) {
            out.add(instance(address, number));
          }
        }
      }
    }
    if (sliced) {
      return List.copyOf(out);
    }
    for (Endpoints eps : snapshot.endpoints()) {
      if (!name.equals(eps.getMetadata().getName())
          || !ns.equals(eps.getMetadata().getNamespace())) {
        continue;
      }
      for (EndpointSubset subset : eps.getSubsets()) {
        Integer number = null;
        for (EndpointPort p : subset.getPorts()) {
          if (java.util.Objects.equals(p.getName(), port.name()) || subset.getPorts().size() == 1) {
            number = p.getPort();
          }
        }
        if (number == null) {
          continue;
        }
        for (EndpointAddress a : subset.getAddresses()) {
          addWorkloadPort(a.getIp(), number, port.protocol());
          out.add(instance(a.getIp(), number));
        }
        if (subset.getNotReadyAddresses() != null) {
          for (EndpointAddress a : subset.getNotReadyAddresses()) {
            addWorkloadPort(a.getIp(), number, port.protocol());
          }
        }
      }
    }
    return List.copyOf(out);
  }

  private Instance instance(String address, int port) {
    Pod pod = podsByIp.get(address);
    Map<String, String> labels =
        pod == null || pod.getMetadata().getLabels() == null
            ? Map.of()
            : Map.copyOf(pod.getMetadata().getLabels());
    return new Instance(address, port, labels, pod == null ? null : pod.getMetadata().getName());
  }

  private void addServiceEntry(ServiceEntry se) {
    ServiceEntrySpec spec = se.getSpec();
    String ns = se.getMetadata().getNamespace();
    String mode = spec.resolution == null ? "NONE" : spec.resolution.name();
    MeshService.Resolution resolution =
        mode.startsWith("DNS")
            ? MeshService.Resolution.DNS
            : mode.equals("STATIC") ? MeshService.Resolution.EDS : MeshService.Resolution.NONE;
    List<MeshService.ServicePort> ports = new ArrayList<>();
    if (spec.ports != null) {
      for (var p : spec.ports) {
        int target = p.targetPort == null ? p.number : p.targetPort;
        ports.add(
            new MeshService.ServicePort(p.name, p.number, target, Protocol.of(null, p.protocol)));
      }
    }
    String address =
        spec.addresses == null || spec.addresses.isEmpty() ? null : spec.addresses.get(0);
    for (String host : spec.hosts) {
      MeshService service =
          new MeshService(
              host,
              host,
              ns,
              address,
              List.copyOf(ports),
              resolution,
              spec.location != ServiceEntrySpec.Location.MESH_INTERNAL);
      services.putIfAbsent(host, service);
      for (MeshService.ServicePort port : ports) {
        List<Instance> out = new ArrayList<>();
        if (spec.endpoints != null) {
          for (var e : spec.endpoints) {
            int p =
                e.ports != null && port.name() != null && e.ports.containsKey(port.name())
                    ? e.ports.get(port.name())
                    : port.targetPort();
            out.add(
                new Instance(
                    e.address, p, e.labels == null ? Map.of() : Map.copyOf(e.labels), null));
          }
        } else if (resolution == MeshService.Resolution.DNS) {
          out.add(new Instance(host, port.targetPort(), Map.of(), null));
        }
        instances.put(key(host, port.port()), List.copyOf(out));
      }
    }
  }
}
