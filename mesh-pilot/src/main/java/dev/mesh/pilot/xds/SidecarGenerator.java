package dev.mesh.pilot.xds;

import dev.mesh.api.NodeId;
import dev.mesh.config.networking.Sidecar;
import dev.mesh.config.networking.SidecarSpec;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.pilot.model.MeshService;
import dev.mesh.pilot.model.Protocol;
import dev.mesh.pilot.model.ServiceIndex;
import dev.mesh.pilot.security.SecuritySettings;
import dev.mesh.pilot.security.authn.EffectivePeerAuthentication;
import dev.mesh.pilot.security.authn.MtlsMode;
import dev.mesh.pilot.security.authn.PeerAuthenticationPolicies;
import dev.mesh.pilot.security.authz.AuthorizationPolicies;
import dev.mesh.pilot.security.authz.RbacFilters;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A sidecar's whole config, from the mesh and the proxy's identity (its node id: pod IP, name and
 * namespace): the services it may reach (all, or what its namespace's Sidecar resource lets it
 * see), their clusters, endpoints, listeners and routes, and its own pod's inbound side.
 */
public final class SidecarGenerator {
  private final Problems problems;
  private final SecuritySettings security;
  private final dev.mesh.pilot.telemetry.AccessLogs accessLogs;

  public SidecarGenerator(Problems problems) {
    this(problems, SecuritySettings.DEFAULTS);
  }

  public SidecarGenerator(Problems problems, SecuritySettings security) {
    this(problems, security, dev.mesh.pilot.telemetry.AccessLogs.NONE);
  }

  public SidecarGenerator(
      Problems problems,
      SecuritySettings security,
      dev.mesh.pilot.telemetry.AccessLogs accessLogs) {
    this.problems = problems;
    this.security = security;
    this.accessLogs = accessLogs;
  }

  public ProxyResources generate(ServiceIndex index, NodeId node) {
    return generate(index, node, false, false);
  }

  /**
   * A proxy's config; {@code proxyless} for a gRPC client that asked for Istio's gRPC generator
   * (node metadata GENERATOR=grpc), which gets API listeners instead of a sidecar's; {@code tproxy}
   * for a sidecar whose inbound is captured by TPROXY (INTERCEPTION_MODE), whose virtualInbound
   * must then be transparent, as Istio makes it.
   */
  public ProxyResources generate(
      ServiceIndex index, NodeId node, boolean proxyless, boolean tproxy) {
    String namespace = node.namespace();
    Sidecar scope = sidecarFor(index, node);
    String key =
        namespace
            + "|"
            + (scope == null
                ? ""
                : scope.getMetadata().getNamespace() + "/" + scope.getMetadata().getName())
            + "|"
            + proxyless;
    ProxyResources shared = index.memo(key, () -> outbound(index, namespace, scope, proxyless));
    if (proxyless) {
      return shared;
    }
    // Proxies whose own ports are alike (most clients: none) share the whole config.
    Map<Integer, Protocol> own = index.workloadPorts(node.ipAddress());
    Pod pod = index.podByIp(node.ipAddress());
    Map<String, String> labels =
        pod == null || pod.getMetadata().getLabels() == null
            ? Map.of()
            : pod.getMetadata().getLabels();
    EffectivePeerAuthentication peer =
        security.mtls()
            ? PeerAuthenticationPolicies.forWorkload(
                index.snapshot().peerAuthentications(), security.rootNamespace(), namespace, labels)
            : new EffectivePeerAuthentication(MtlsMode.DISABLE, Map.of());
    List<AuthorizationPolicy> authz =
        AuthorizationPolicies.forWorkload(
            index.snapshot().authorizationPolicies(), security.rootNamespace(), namespace, labels);
    String authzKey =
        authz.stream()
            .map(a -> a.getMetadata().getNamespace() + "/" + a.getMetadata().getName())
            .toList()
            .toString();
    return index.memo(
        key + "|" + own + "|" + tproxy + "|" + peer + "|" + authzKey,
        () -> shared.plus(inbound(own, peer, RbacFilters.build(authz, problems::warn), tproxy)));
  }

  /** What every proxy of a namespace and Sidecar scope gets alike: the outbound side. */
  private ProxyResources outbound(
      ServiceIndex index, String namespace, Sidecar scope, boolean proxyless) {
    boolean allowAny = true;
    if (scope != null
        && scope.getSpec().outboundTrafficPolicy != null
        && scope.getSpec().outboundTrafficPolicy.mode
            == SidecarSpec.OutboundTrafficPolicy.Mode.REGISTRY_ONLY) {
      allowAny = false;
    }
    List<MeshService> visible = new ArrayList<>();
    for (MeshService s : index.services()) {
      if (scope == null || egressAllows(scope, s, namespace)) {
        visible.add(s);
      }
    }
    if (proxyless) {
      return GrpcGenerator.generate(index, visible, problems);
    }
    List<Cluster> clusters = new ArrayList<>(ClusterGenerator.fixed());
    List<ClusterLoadAssignment> endpoints = new ArrayList<>();
    ClusterGenerator.addOutbound(index, visible, clusters, endpoints, security, problems);
    List<Listener> listeners = new ArrayList<>();
    List<RouteConfiguration> routes = new ArrayList<>();
    listeners.add(ListenerGenerator.virtualOutbound(allowAny));
    Map<Integer, List<MeshService>> httpByPort = new TreeMap<>();
    for (MeshService s : visible) {
      for (MeshService.ServicePort p : s.ports()) {
        if (p.protocol().isHttp()) {
          httpByPort.computeIfAbsent(p.port(), k -> new ArrayList<>()).add(s);
        } else if (p.protocol() == Protocol.AUTO && s.address() != null) {
          // Sniffed, as Istio does: HTTP through this service's routes, anything else as TCP.
          String route = s.hostname() + ":" + p.port();
          listeners.add(
              ListenerGenerator.outboundSniffed(
                  s.address(),
                  p.port(),
                  dev.mesh.api.ClusterName.outbound(p.port(), s.hostname()).toString(),
                  route));
          routes.add(RouteGenerator.forService(index, s, p.port(), route, namespace, problems));
        } else if (s.address() != null) {
          listeners.add(
              ListenerGenerator.outboundTcp(
                  s.address(),
                  p.port(),
                  dev.mesh.api.ClusterName.outbound(p.port(), s.hostname()).toString()));
        }
      }
    }
    for (var e : httpByPort.entrySet()) {
      listeners.add(ListenerGenerator.outboundHttp(e.getKey()));
      routes.add(
          RouteGenerator.forPort(index, e.getKey(), e.getValue(), namespace, allowAny, problems));
    }
    return ProxyResources.of(clusters, endpoints, accessLogs.apply(listeners), routes);
  }

  /** The proxy's own side: its pod's ports behind virtualInbound. */
  private ProxyResources inbound(
      Map<Integer, Protocol> ports,
      EffectivePeerAuthentication peer,
      RbacFilters.Inbound rbac,
      boolean tproxy) {
    List<ListenerGenerator.InboundPort> inbound = new ArrayList<>();
    List<Cluster> clusters = new ArrayList<>();
    for (var p : ports.entrySet()) {
      inbound.add(
          new ListenerGenerator.InboundPort(
              p.getKey(), p.getValue(), peer.forPort(p.getKey()), rbac.http(), rbac.tcp()));
      clusters.add(ClusterGenerator.inbound(p.getKey()));
    }
    return ProxyResources.of(
        clusters,
        List.of(),
        accessLogs.apply(
            List.of(ListenerGenerator.virtualInbound(inbound, peer.mode(), rbac.tcp(), tproxy))),
        List.of());
  }

  /** The Sidecar resource for a proxy: one selecting its pod's labels, else its namespace's. */
  private static Sidecar sidecarFor(ServiceIndex index, NodeId node) {
    Pod pod = index.podByIp(node.ipAddress());
    Map<String, String> labels =
        pod == null || pod.getMetadata().getLabels() == null
            ? Map.of()
            : pod.getMetadata().getLabels();
    Sidecar fallback = null;
    for (Sidecar s : index.snapshot().sidecars()) {
      if (!s.getMetadata().getNamespace().equals(node.namespace())) {
        continue;
      }
      var selector = s.getSpec().workloadSelector;
      if (selector == null || selector.labels == null || selector.labels.isEmpty()) {
        fallback = fallback == null ? s : fallback;
      } else if (dev.mesh.config.LabelSelectors.matches(selector.labels, labels)) {
        return s;
      }
    }
    return fallback;
  }

  /** Istio's egress hosts: {@code namespace/dnsName}, with {@code .} for the own namespace. */
  private static boolean egressAllows(Sidecar sidecar, MeshService s, String ownNamespace) {
    if (sidecar.getSpec().egress == null || sidecar.getSpec().egress.isEmpty()) {
      return true;
    }
    for (var egress : sidecar.getSpec().egress) {
      for (String h : egress.hosts) {
        int slash = h.indexOf('/');
        String ns = slash < 0 ? "*" : h.substring(0, slash);
        String host = slash < 0 ? h : h.substring(slash + 1);
        if (ns.equals(".")) {
          ns = ownNamespace;
        }
        boolean nsOk = ns.equals("*") || ns.equals(s.namespace());
        boolean hostOk =
            host.equals("*")
                || host.equals(s.hostname())
                || host.startsWith("*.") && s.hostname().endsWith(host.substring(1));
        if (nsOk && hostOk) {
          return true;
        }
      }
    }
    return false;
  }
}
