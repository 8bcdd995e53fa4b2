package dev.mesh.pilot.xds;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import dev.mesh.api.ClusterName;
import dev.mesh.api.EnvoyNames;
import dev.mesh.config.IstioDuration;
import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.DestinationRuleSpec;
import dev.mesh.config.networking.DestinationRuleSpec.TrafficPolicy;
import dev.mesh.pilot.model.Instance;
import dev.mesh.pilot.model.MeshService;
import dev.mesh.pilot.model.ServiceIndex;
import dev.mesh.pilot.security.SecuritySettings;
import dev.mesh.pilot.security.authn.MtlsMode;
import dev.mesh.pilot.security.authn.PeerAuthenticationPolicies;
import dev.mesh.pilot.security.mtls.ClientTlsPolicy;
import dev.mesh.pilot.security.mtls.ClusterTls;
import dev.mesh.pilot.security.mtls.EndpointTls;
import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.BindConfig;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions;
import java.util.ArrayList;
import java.util.List;

/**
 * Clusters as Istio names and shapes them: {@code outbound|port|subset|host} per service port and
 * DestinationRule subset (EDS for services, DNS or original destination for ServiceEntries), with
 * the rule's load balancer, connection pool and outlier detection; the passthrough and black-hole
 * clusters; {@code inbound|port||} for the proxy's own ports, reaching the app at the pod's IP from
 * 127.0.0.6 as Istio ≥ 1.10 does.
 */
final class ClusterGenerator {
  private ClusterGenerator() {}

  static final ConfigSource ADS =
      ConfigSource.newBuilder()
          .setAds(AggregatedConfigSource.getDefaultInstance())
          .setResourceApiVersion(ApiVersion.V3)
          .build();

  private static final String HTTP_OPTIONS =
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
  private static final com.google.protobuf.Duration CONNECT_TIMEOUT =
      com.google.protobuf.Duration.newBuilder().setSeconds(10).build(); // Istio's default

  /** An outbound cluster and, for EDS, its endpoints. */
  record Outbound(Cluster cluster, ClusterLoadAssignment endpoints) {}

  /** The outbound clusters of the services, and the endpoints of those that take EDS. */
  static void addOutbound(
      ServiceIndex index,
      Iterable<MeshService> services,
      List<Cluster> clusters,
      List<ClusterLoadAssignment> endpoints,
      SecuritySettings security,
      Problems problems) {
    for (Outbound o : outbound(index, services, security, problems)) {
      clusters.add(o.cluster());
      if (o.endpoints() != null) {
        endpoints.add(o.endpoints());
      }
    }
  }

  /** The assignments (EDS) of the services with these hostnames, by cluster name. */
  static java.util.Map<String, ClusterLoadAssignment> assignments(
      ServiceIndex index, java.util.Set<String> hostnames, SecuritySettings security) {
    List<MeshService> services = new ArrayList<>();
    for (String h : hostnames) {
      services.add(index.service(h));
    }
    java.util.Map<String, ClusterLoadAssignment> out = new java.util.HashMap<>();
    for (Outbound o : outbound(index, services, security, new Problems())) {
      if (o.endpoints() != null) {
        out.put(o.endpoints().getClusterName(), o.endpoints());
      }
    }
    return out;
  }

  static List<Outbound> outbound(
      ServiceIndex index,
      Iterable<MeshService> services,
      SecuritySettings security,
      Problems problems) {
    List<Outbound> out = new ArrayList<>();
    EndpointTls endpointTls = new EndpointTls(index, security);
    for (MeshService s : services) {
      DestinationRule dr = index.destinationRule(s.hostname());
      DestinationRuleSpec spec = dr == null ? null : dr.getSpec();
      String ref =
          dr == null
              ? null
              : "DestinationRule "
                  + dr.getMetadata().getNamespace()
                  + "/"
                  + dr.getMetadata().getName();
      MtlsMode namespaceMode =
          PeerAuthenticationPolicies.forNamespace(
              index.snapshot().peerAuthentications(), security.rootNamespace(), s.namespace());
      for (MeshService.ServicePort port : s.ports()) {
        List<Instance> all = index.instances(s, port);
        List<String> identities = endpointTls.identities(all);
        TrafficPolicy base = spec == null ? null : spec.trafficPolicy;
        out.add(
            cluster(
                s,
                port,
                null,
                base,
                all,
                endpointTls,
                tls(spec, null, s, port, identities, namespaceMode, security, problems, ref)));
        if (spec != null && spec.subsets != null) {
          for (var subset : spec.subsets) {
            List<Instance> chosen = all.stream().filter(i -> i.matches(subset.labels)).toList();
            TrafficPolicy policy = subset.trafficPolicy != null ? subset.trafficPolicy : base;
            out.add(
                cluster(
                    s,
                    port,
                    subset.name,
                    policy,
                    chosen,
                    endpointTls,
                    tls(
                        spec,
                        subset.name,
                        s,
                        port,
                        identities,
                        namespaceMode,
                        security,
                        problems,
                        ref)));
          }
        }
      }
    }
    return out;
  }

  /** How the cluster secures its connections: applied to it once it is built. */
  private static java.util.function.Consumer<Cluster.Builder> tls(
      DestinationRuleSpec spec,
      String subset,
      MeshService s,
      MeshService.ServicePort port,
      List<String> identities,
      MtlsMode namespaceMode,
      SecuritySettings security,
      Problems problems,
      String ref) {
    var rule = ClientTlsPolicy.of(spec, subset, port.port());
    var destination =
        new ClusterTls.Destination(
            s.hostname(),
            port.port(),
            subset,
            port.protocol().http2Upstream(),
            s.external(),
            identities,
            namespaceMode);
    return c ->
        ClusterTls.apply(c, rule, destination, security, why -> problems.warn(ref + ": " + why));
  }

  private static Outbound cluster(
      MeshService s,
      MeshService.ServicePort port,
      String subset,
      TrafficPolicy policy,
      List<Instance> instances,
      EndpointTls endpointTls,
      java.util.function.Consumer<Cluster.Builder> tls) {
    String name = ClusterName.outbound(port.port(), subset, s.hostname()).toString();
    Cluster.Builder c = Cluster.newBuilder().setName(name).setConnectTimeout(CONNECT_TIMEOUT);
    ClusterLoadAssignment cla = assignment(name, instances, endpointTls);
    switch (s.resolution()) {
      case EDS ->
          c.setType(Cluster.DiscoveryType.EDS)
              .setEdsClusterConfig(
                  Cluster.EdsClusterConfig.newBuilder().setEdsConfig(ADS).setServiceName(name));
      case DNS -> {
        c.setType(Cluster.DiscoveryType.STRICT_DNS).setLoadAssignment(cla);
        cla = null;
      }
      case NONE -> {
        c.setType(Cluster.DiscoveryType.ORIGINAL_DST)
            .setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED);
        cla = null;
      }
    }
    if (port.protocol().http2Upstream()) {
      c.putTypedExtensionProtocolOptions(HTTP_OPTIONS, http2());
    }
    if (policy != null) {
      applyPolicy(c, policy, s.resolution() != MeshService.Resolution.NONE);
    }
    tls.accept(c);
    return new Outbound(c.build(), cla);
  }

  static Any http2() {
    return Any.pack(
        HttpProtocolOptions.newBuilder()
            .setExplicitHttpConfig(
                HttpProtocolOptions.ExplicitHttpConfig.newBuilder()
                    .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance()))
            .build());
  }

  /** A DestinationRule's traffic policy on a cluster: load balancer, pool limits, outliers. */
  private static void applyPolicy(Cluster.Builder c, TrafficPolicy p, boolean balanced) {
    if (balanced && p.loadBalancer != null && p.loadBalancer.consistentHash != null) {
      c.setLbPolicy(Cluster.LbPolicy.RING_HASH); // as Istio; a proxy without it NACKs the cluster
    } else if (balanced && p.loadBalancer != null && p.loadBalancer.simple != null) {
      switch (p.loadBalancer.simple) {
        case RANDOM -> c.setLbPolicy(Cluster.LbPolicy.RANDOM);
        case LEAST_CONN, LEAST_REQUEST -> c.setLbPolicy(Cluster.LbPolicy.LEAST_REQUEST);
        default -> c.setLbPolicy(Cluster.LbPolicy.ROUND_ROBIN);
      }
    }
    var pool = p.connectionPool;
    if (pool != null) {
      CircuitBreakers.Thresholds.Builder t = CircuitBreakers.Thresholds.newBuilder();
      if (pool.tcp != null && pool.tcp.maxConnections != null) {
        t.setMaxConnections(UInt32Value.of(pool.tcp.maxConnections));
      }
      if (pool.tcp != null && pool.tcp.connectTimeout != null) {
        c.setConnectTimeout(duration(pool.tcp.connectTimeout));
      }
      if (pool.http != null) {
        if (pool.http.http1MaxPendingRequests != null) {
          t.setMaxPendingRequests(UInt32Value.of(pool.http.http1MaxPendingRequests));
        }
        if (pool.http.http2MaxRequests != null) {
          t.setMaxRequests(UInt32Value.of(pool.http.http2MaxRequests));
        }
        if (pool.http.maxRetries != null) {
          t.setMaxRetries(UInt32Value.of(pool.http.maxRetries));
        }
      }
      c.setCircuitBreakers(CircuitBreakers.newBuilder().addThresholds(t));
    }
    var od = p.outlierDetection;
    if (od != null) {
      OutlierDetection.Builder o = OutlierDetection.newBuilder();
      if (od.consecutive5xxErrors != null) {
        o.setConsecutive5Xx(UInt32Value.of(od.consecutive5xxErrors));
      }
      if (od.consecutiveGatewayErrors != null) {
        o.setConsecutiveGatewayFailure(UInt32Value.of(od.consecutiveGatewayErrors));
        o.setEnforcingConsecutiveGatewayFailure(UInt32Value.of(100));
      }
      if (od.interval != null) {
        o.setInterval(duration(od.interval));
      }
      if (od.baseEjectionTime != null) {
        o.setBaseEjectionTime(duration(od.baseEjectionTime));
      }
      if (od.maxEjectionPercent != null) {
        o.setMaxEjectionPercent(UInt32Value.of(od.maxEjectionPercent));
      }
      c.setOutlierDetection(o);
    }
  }

  static com.google.protobuf.Duration duration(String istio) {
    java.time.Duration d = IstioDuration.parse(istio);
    return com.google.protobuf.Duration.newBuilder()
        .setSeconds(d.getSeconds())
        .setNanos(d.getNano())
        .build();
  }

  static ClusterLoadAssignment assignment(
      String name, List<Instance> instances, EndpointTls endpointTls) {
    LocalityLbEndpoints.Builder l = LocalityLbEndpoints.newBuilder();
    for (Instance i : instances) {
      LbEndpoint.Builder e =
          LbEndpoint.newBuilder()
              .setEndpoint(Endpoint.newBuilder().setAddress(address(i.address(), i.port())));
      if (endpointTls.takesIstioMutual(i)) {
        e.setMetadata(dev.mesh.pilot.security.mtls.UpstreamTls.istioEndpoint());
      }
      l.addLbEndpoints(e);
    }
    ClusterLoadAssignment.Builder cla = ClusterLoadAssignment.newBuilder().setClusterName(name);
    if (!instances.isEmpty()) {
      // A locality weight, as Istio sets it: gRPC's xDS client skips localities without one.
      cla.addEndpoints(l.setLoadBalancingWeight(UInt32Value.of(instances.size())));
    }
    return cla.build();
  }

  static Address address(String ip, int port) {
    return Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress(ip).setPortValue(port))
        .build();
  }

  /** PassthroughCluster, BlackHoleCluster and InboundPassthroughCluster, by Istio's names. */
  static List<Cluster> fixed() {
    return List.of(
        Cluster.newBuilder()
            .setName(EnvoyNames.PASSTHROUGH_CLUSTER)
            .setType(Cluster.DiscoveryType.ORIGINAL_DST)
            .setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED)
            .setConnectTimeout(CONNECT_TIMEOUT)
            .build(),
        Cluster.newBuilder()
            .setName(EnvoyNames.BLACKHOLE_CLUSTER)
            .setType(Cluster.DiscoveryType.STATIC)
            .setConnectTimeout(CONNECT_TIMEOUT)
            .build(),
        inboundOriginalDst(EnvoyNames.INBOUND_PASSTHROUGH_CLUSTER));
  }

  /** {@code inbound|port||}: to the app at the original destination, from 127.0.0.6. */
  static Cluster inbound(int port) {
    return inboundOriginalDst(ClusterName.inbound(port).toString());
  }

  private static Cluster inboundOriginalDst(String name) {
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.ORIGINAL_DST)
        .setLbPolicy(Cluster.LbPolicy.CLUSTER_PROVIDED)
        .setConnectTimeout(CONNECT_TIMEOUT)
        .setUpstreamBindConfig(
            BindConfig.newBuilder()
                .setSourceAddress(
                    SocketAddress.newBuilder().setAddress("127.0.0.6").setPortValue(0)))
        .build();
  }
}
