package dev.mesh.pilot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.api.NodeId;
import dev.mesh.pilot.model.ServiceIndex;
import dev.mesh.pilot.registry.FileRegistry;
import dev.mesh.pilot.xds.Problems;
import dev.mesh.pilot.xds.ProxyResources;
import dev.mesh.pilot.xds.SidecarGenerator;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a sidecar is given for ServiceEntries of each resolution and under a Sidecar resource, read
 * from a config directory by pilot's own file registry and translated by its generator.
 */
class SidecarTranslationTest {
  @TempDir Path dir;

  ProxyResources translate(String yaml, String namespace) throws Exception {
    Files.writeString(dir.resolve("mesh.yaml"), yaml);
    try (FileRegistry registry = new FileRegistry(dir)) {
      registry.start(() -> {});
      ServiceIndex index = new ServiceIndex(registry.current(), "cluster.local");
      return new SidecarGenerator(new Problems())
          .generate(index, NodeId.sidecar("10.44.0.9", "client-1", namespace));
    }
  }

  static Map<String, Cluster> clusters(ProxyResources r) {
    return r.clusters().stream().collect(Collectors.toMap(Cluster::getName, Function.identity()));
  }

  static final String ENTRIES =
      """
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: {name: static-db, namespace: data}
      spec:
        hosts: [db.internal]
        location: MESH_INTERNAL
        resolution: STATIC
        ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
        endpoints: [{address: 10.9.0.1}, {address: 10.9.0.2}]
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: {name: external-api, namespace: data}
      spec:
        hosts: [api.example.com]
        location: MESH_EXTERNAL
        resolution: DNS
        ports: [{number: 443, name: https, protocol: TLS}]
      ---
      apiVersion: networking.istio.io/v1
      kind: ServiceEntry
      metadata: {name: anything, namespace: data}
      spec:
        hosts: [legacy.corp]
        resolution: NONE
        ports: [{number: 80, name: http, protocol: HTTP}]
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: reviews, namespace: shop}
      spec:
        clusterIP: 10.96.0.20
        ports: [{name: http, port: 9080}]
      """;

  @Test
  void serviceEntriesBecomeClustersByTheirResolution() throws Exception {
    ProxyResources r = translate(ENTRIES, "shop");
    Map<String, Cluster> c = clusters(r);
    Cluster db = c.get("outbound|5432||db.internal");
    assertThat(db.getType()).isEqualTo(Cluster.DiscoveryType.EDS);
    assertThat(r.endpoints())
        .filteredOn(e -> e.getClusterName().equals("outbound|5432||db.internal"))
        .singleElement()
        .satisfies(e -> assertThat(e.getEndpoints(0).getLbEndpointsCount()).isEqualTo(2));
    Cluster api = c.get("outbound|443||api.example.com");
    assertThat(api.getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);
    assertThat(
            api.getLoadAssignment()
                .getEndpoints(0)
                .getLbEndpoints(0)
                .getEndpoint()
                .getAddress()
                .getSocketAddress()
                .getAddress())
        .isEqualTo("api.example.com");
    assertThat(c.get("outbound|80||legacy.corp").getType())
        .isEqualTo(Cluster.DiscoveryType.ORIGINAL_DST);
    // Without a Sidecar resource, everything is visible and unknown hosts pass through.
    assertThat(c).containsKey("outbound|9080||reviews.shop.svc.cluster.local");
    assertThat(virtualOutboundCluster(r)).isEqualTo("PassthroughCluster");
  }

  @Test
  void aSidecarResourceScopesEgressAndCanBlockUnknownHosts() throws Exception {
    ProxyResources r =
        translate(
            ENTRIES
                + """
                ---
                apiVersion: networking.istio.io/v1
                kind: Sidecar
                metadata: {name: default, namespace: shop}
                spec:
                  egress:
                  - hosts: ["./*", "data/db.internal"]
                  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
                """,
            "shop");
    Map<String, Cluster> c = clusters(r);
    assertThat(c).containsKey("outbound|9080||reviews.shop.svc.cluster.local");
    assertThat(c).containsKey("outbound|5432||db.internal");
    assertThat(c).doesNotContainKey("outbound|443||api.example.com");
    assertThat(c).doesNotContainKey("outbound|80||legacy.corp");
    assertThat(virtualOutboundCluster(r)).isEqualTo("BlackHoleCluster");
    // Another namespace's proxies are not scoped by it.
    assertThat(clusters(translate(Files.readString(dir.resolve("mesh.yaml")), "other")))
        .containsKey("outbound|443||api.example.com");
  }

  static String virtualOutboundCluster(ProxyResources r) throws Exception {
    var l =
        r.listeners().stream().filter(x -> x.getName().equals("virtualOutbound")).findFirst().get();
    return l.getFilterChains(0).getFilters(0).getTypedConfig().unpack(TcpProxy.class).getCluster();
  }

  @Test
  void theProtocolComesFromThePortNameOrAppProtocolAsIstioHasIt() throws Exception {
    ProxyResources r =
        translate(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: db, namespace: shop}
            spec:
              clusterIP: 10.96.0.40
              ports:
              - {name: tcp-db, port: 5432}
              - {name: web, port: 8080, appProtocol: http}
              - {name: grpc-api, port: 9090}
            """,
            "shop");
    var listeners =
        r.listeners().stream().collect(Collectors.toMap(l -> l.getName(), Function.identity()));
    // TCP by name prefix: a listener on the cluster IP, to the outbound cluster.
    var tcp = listeners.get("10.96.0.40_5432");
    assertThat(tcp).isNotNull();
    assertThat(
            tcp.getFilterChains(0)
                .getFilters(0)
                .getTypedConfig()
                .unpack(TcpProxy.class)
                .getCluster())
        .isEqualTo("outbound|5432||db.shop.svc.cluster.local");
    assertThat(listeners).doesNotContainKey("0.0.0.0_5432");
    // HTTP by appProtocol, gRPC by name: wildcard listeners with routes by RDS.
    assertThat(listeners).containsKeys("0.0.0.0_8080", "0.0.0.0_9090");
    assertThat(r.routes()).extracting(rc -> rc.getName()).contains("8080", "9090");
    // gRPC's upstream speaks HTTP/2; the others do not say.
    Map<String, Cluster> c = clusters(r);
    assertThat(
            c.get("outbound|9090||db.shop.svc.cluster.local").getTypedExtensionProtocolOptionsMap())
        .containsKey("envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    assertThat(
            c.get("outbound|8080||db.shop.svc.cluster.local").getTypedExtensionProtocolOptionsMap())
        .isEmpty();
  }

  @Test
  void aProxyServesItsOwnPodsPortsBehindVirtualInbound() throws Exception {
    ProxyResources r =
        translate(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: reviews, namespace: shop}
            spec:
              clusterIP: 10.96.0.20
              ports: [{name: http, port: 9080}, {name: tcp-metrics, port: 9100}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: reviews-a, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
            addressType: IPv4
            ports: [{name: http, port: 9080}, {name: tcp-metrics, port: 9100}]
            endpoints: [{addresses: ["10.44.0.9"]}]
            """,
            "shop");
    Cluster inbound = clusters(r).get("inbound|9080||");
    assertThat(inbound.getType()).isEqualTo(Cluster.DiscoveryType.ORIGINAL_DST);
    assertThat(inbound.getUpstreamBindConfig().getSourceAddress().getAddress())
        .isEqualTo("127.0.0.6");
    assertThat(clusters(r)).containsKey("inbound|9100||");
    var virtualInbound =
        r.listeners().stream().filter(l -> l.getName().equals("virtualInbound")).findFirst().get();
    assertThat(virtualInbound.getAddress().getSocketAddress().getPortValue()).isEqualTo(15006);
    var byPort =
        virtualInbound.getFilterChainsList().stream()
            .filter(fc -> fc.getFilterChainMatch().hasDestinationPort())
            .collect(
                Collectors.toMap(
                    fc -> fc.getFilterChainMatch().getDestinationPort().getValue(),
                    fc -> fc.getFilters(0).getName(),
                    (a, b) -> a));
    assertThat(byPort)
        .containsEntry(9080, "envoy.filters.network.http_connection_manager")
        .containsEntry(9100, "envoy.filters.network.tcp_proxy");
    // The last chain passes anything else through to the app.
    var last = virtualInbound.getFilterChains(virtualInbound.getFilterChainsCount() - 1);
    assertThat(last.getFilters(0).getTypedConfig().unpack(TcpProxy.class).getCluster())
        .isEqualTo("InboundPassthroughCluster");
  }

  static java.util.Set<Integer> inboundPorts(ProxyResources r) {
    return r.clusters().stream()
        .map(Cluster::getName)
        .filter(n -> n.startsWith("inbound|"))
        .map(n -> Integer.parseInt(n.split("\\|")[1]))
        .collect(Collectors.toSet());
  }

  @Test
  void aTerminatingOrNotYetReadyPodKeepsItsInboundSide() throws Exception {
    String service =
        """
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, namespace: shop}
        spec:
          clusterIP: 10.96.0.20
          selector: {app: reviews}
          ports: [{name: http, port: 80, targetPort: web}, {name: tcp-metrics, port: 9100}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: reviews-1, namespace: shop, labels: {app: reviews, version: v1}}
        spec:
          containers: [{name: app, image: reviews, ports: [{name: web, containerPort: 9080}]}]
        status: {phase: Running, podIP: 10.44.0.9}
        """;
    // Terminating: out of the ready endpoints (where clients send), still draining requests.
    ProxyResources terminating =
        translate(
            service
                + """
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: reviews-a, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
                addressType: IPv4
                ports: [{name: http, port: 9080}, {name: tcp-metrics, port: 9100}]
                endpoints:
                - addresses: ["10.44.0.9"]
                  conditions: {ready: false, serving: true, terminating: true}
                """,
            "shop");
    assertThat(inboundPorts(terminating)).containsExactlyInAnyOrder(9080, 9100);
    assertThat(terminating.endpoints())
        .filteredOn(e -> e.getClusterName().startsWith("outbound|80||reviews"))
        .allMatch(e -> e.getEndpointsList().stream().allMatch(l -> l.getLbEndpointsCount() == 0));
    // No endpoint at all yet: the service's selector picks the pod, the named port its container's.
    assertThat(inboundPorts(translate(service, "shop"))).containsExactlyInAnyOrder(9080, 9100);
    // A pod the selector does not pick serves nothing inbound.
    assertThat(
            inboundPorts(
                translate(
                    service.replace("app: reviews, version", "app: ratings, version"), "shop")))
        .isEmpty();
  }
}
