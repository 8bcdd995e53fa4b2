package dev.mesh.pilot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.api.XdsTypes;
import dev.mesh.config.IstioResources;
import dev.mesh.config.networking.DestinationRule;
import dev.mesh.local.api.MockApi;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.net.ServerSocket;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Pilot against fabric8's mock API server in CRUD mode, reached the way a real cluster is (the
 * client configuration from system properties, informers in every namespace), and two ADS clients
 * of grpc-java's own stubs: one state of the world, one delta. A change made through the API
 * reaches both; an endpoint change moves EDS alone, and in delta as the one resource that changed.
 */
@EnableKubernetesMockClient(crud = true)
class PilotKubernetesTest {
  static KubernetesClient client;
  static io.fabric8.kubernetes.client.server.mock.KubernetesMockServer server;
  static ConfigurableApplicationContext pilot;
  static ManagedChannel channel;
  static final Node NODE =
      Node.newBuilder()
          .setId("sidecar~10.44.0.2~productpage-1.default~default.svc.cluster.local")
          .build();
  static final String RATINGS = "outbound|9080||ratings.default.svc.cluster.local";

  @BeforeAll
  static void start() throws Exception {
    for (String name : List.of("reviews", "ratings")) {
      client
          .services()
          .inNamespace("default")
          .resource(
              new ServiceBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .withNamespace("default")
                  .endMetadata()
                  .withNewSpec()
                  .withClusterIP(name.equals("reviews") ? "10.96.0.20" : "10.96.0.21")
                  .addNewPort()
                  .withName("http")
                  .withPort(9080)
                  .endPort()
                  .endSpec()
                  .build())
          .create();
    }
    pod("reviews-v1", "10.44.1.1", "reviews", "v1");
    pod("reviews-v2", "10.44.1.2", "reviews", "v2");
    pod("ratings-1", "10.44.2.1", "ratings", "v1");
    pod("ratings-2", "10.44.2.2", "ratings", "v1");
    slice("reviews", List.of("10.44.1.1", "10.44.1.2"));
    slice("ratings", List.of("10.44.2.1", "10.44.2.2"));
    reviewsSubsets(REVIEWS_SUBSETS);

    MockApi.use(client.getMasterUrl().toString());
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    pilot =
        SpringApplication.run(
            PilotApplication.class,
            "--server.port=0",
            "--spring.grpc.server.port=" + port,
            "--validation-port=0");
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
    if (pilot != null) {
      pilot.close();
    }
    MockApi.forget();
    dev.mesh.local.api.ApiUsage.record(server, PilotKubernetesTest.class);
  }

  static void pod(String name, String ip, String app, String version) {
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace("default")
            .addToLabels("app", app)
            .addToLabels("version", version)
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName(app)
            .withImage(app)
            .endContainer()
            .endSpec()
            .withNewStatus()
            .withPodIP(ip)
            .endStatus()
            .build();
    client.pods().inNamespace("default").resource(pod).create();
  }

  static final String REVIEWS_SUBSETS =
      "[{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]";

  static void reviewsSubsets(String subsets) {
    client
        .resources(DestinationRule.class)
        .inNamespace("default")
        .resource(
            IstioResources.parse(
                """
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: reviews, namespace: default}
                spec:
                  host: reviews
                  subsets: %s
                """
                    .formatted(subsets),
                DestinationRule.class))
        .createOr(op -> op.update());
  }

  static void slice(String service, List<String> ips) {
    EndpointSliceBuilder b =
        new EndpointSliceBuilder()
            .withNewMetadata()
            .withName(service + "-abc")
            .withNamespace("default")
            .addToLabels("kubernetes.io/service-name", service)
            .endMetadata()
            .withAddressType("IPv4")
            .addNewPort()
            .withName("http")
            .withPort(9080)
            .endPort();
    for (String ip : ips) {
      b.addNewEndpoint()
          .withAddresses(ip)
          .withNewConditions()
          .withReady(true)
          .endConditions()
          .endEndpoint();
    }
    EndpointSlice s = b.build();
    client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace("default")
        .resource(s)
        .createOr(op -> op.update());
  }

  /** A state-of-the-world ADS stream: responses arrive in a queue; requests go out by hand. */
  static final class SotwClient implements AutoCloseable {
    final LinkedBlockingQueue<DiscoveryResponse> responses = new LinkedBlockingQueue<>();
    final StreamObserver<DiscoveryRequest> requests;

    SotwClient() {
      requests =
          AggregatedDiscoveryServiceGrpc.newStub(channel)
              .streamAggregatedResources(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(DiscoveryResponse r) {
                      responses.add(r);
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                  });
    }

    DiscoveryResponse request(String type, List<String> names, DiscoveryResponse ackOf)
        throws InterruptedException {
      send(type, names, ackOf);
      return responses.poll(20, TimeUnit.SECONDS);
    }

    void send(String type, List<String> names, DiscoveryResponse ackOf) {
      DiscoveryRequest.Builder r =
          DiscoveryRequest.newBuilder().setNode(NODE).setTypeUrl(type).addAllResourceNames(names);
      if (ackOf != null) {
        r.setVersionInfo(ackOf.getVersionInfo()).setResponseNonce(ackOf.getNonce());
      }
      requests.onNext(r.build());
    }

    @Override
    public void close() {
      requests.onCompleted();
    }
  }

  static Set<String> names(DiscoveryResponse r, Class<? extends com.google.protobuf.Message> type)
      throws Exception {
    Set<String> out = new TreeSet<>();
    for (var any : r.getResourcesList()) {
      var m = any.unpack(type);
      out.add(m instanceof Cluster c ? c.getName() : ((ClusterLoadAssignment) m).getClusterName());
    }
    return out;
  }

  static ClusterLoadAssignment endpointsOf(DiscoveryResponse r, String cluster) throws Exception {
    for (var any : r.getResourcesList()) {
      var cla = any.unpack(ClusterLoadAssignment.class);
      if (cla.getClusterName().equals(cluster)) {
        return cla;
      }
    }
    return null;
  }

  @Test
  void servicesAndRulesFromTheApiBecomeClustersAndEndpointChangesMoveEdsAlone() throws Exception {
    slice("ratings", List.of("10.44.2.1", "10.44.2.2"));
    try (SotwClient sotw = new SotwClient()) {
      DiscoveryResponse cds = sotw.request(XdsTypes.CLUSTER, List.of(), null);
      assertThat(cds).isNotNull();
      assertThat(names(cds, Cluster.class))
          .contains(
              "outbound|9080||reviews.default.svc.cluster.local",
              "outbound|9080|v1|reviews.default.svc.cluster.local",
              "outbound|9080|v2|reviews.default.svc.cluster.local",
              RATINGS,
              "PassthroughCluster");
      DiscoveryResponse eds = sotw.request(XdsTypes.ENDPOINT, List.of(RATINGS), null);
      sotw.send(XdsTypes.CLUSTER, List.of(), cds); // ACK
      assertThat(endpointsOf(eds, RATINGS).getEndpoints(0).getLbEndpointsCount()).isEqualTo(2);

      slice("ratings", List.of("10.44.2.1"));
      DiscoveryResponse next = sotw.request(XdsTypes.ENDPOINT, List.of(RATINGS), eds);
      assertThat(next).as("an EDS push after the endpoint change").isNotNull();
      assertThat(next.getTypeUrl()).isEqualTo(XdsTypes.ENDPOINT);
      assertThat(endpointsOf(next, RATINGS).getEndpoints(0).getLbEndpointsCount()).isEqualTo(1);
      // Nothing else moved: no CDS response follows.
      assertThat(sotw.responses.poll(500, TimeUnit.MILLISECONDS)).isNull();
    } finally {
      slice("ratings", List.of("10.44.2.1", "10.44.2.2"));
    }
  }

  @Test
  void aDeltaClientGetsTheOneChangedResourceAndAgreesWithStateOfTheWorld() throws Exception {
    slice("ratings", List.of("10.44.2.1", "10.44.2.2"));
    var deltas = new LinkedBlockingQueue<DeltaDiscoveryResponse>();
    StreamObserver<DeltaDiscoveryRequest> delta =
        AggregatedDiscoveryServiceGrpc.newStub(channel)
            .deltaAggregatedResources(
                new StreamObserver<>() {
                  @Override
                  public void onNext(DeltaDiscoveryResponse r) {
                    deltas.add(r);
                  }

                  @Override
                  public void onError(Throwable t) {}

                  @Override
                  public void onCompleted() {}
                });
    try (SotwClient sotw = new SotwClient()) {
      List<String> all =
          List.of(
              RATINGS,
              "outbound|9080||reviews.default.svc.cluster.local",
              "outbound|9080|v1|reviews.default.svc.cluster.local",
              "outbound|9080|v2|reviews.default.svc.cluster.local");
      delta.onNext(
          DeltaDiscoveryRequest.newBuilder()
              .setNode(NODE)
              .setTypeUrl(XdsTypes.ENDPOINT)
              .addAllResourceNamesSubscribe(all)
              .build());
      DeltaDiscoveryResponse first = deltas.poll(20, TimeUnit.SECONDS);
      assertThat(first).isNotNull();
      assertThat(first.getResourcesCount()).isEqualTo(4);
      delta.onNext(
          DeltaDiscoveryRequest.newBuilder()
              .setNode(NODE)
              .setTypeUrl(XdsTypes.ENDPOINT)
              .setResponseNonce(first.getNonce())
              .build());

      slice("ratings", List.of("10.44.2.2"));
      DeltaDiscoveryResponse change = deltas.poll(20, TimeUnit.SECONDS);
      assertThat(change).isNotNull();
      assertThat(change.getResourcesCount()).isEqualTo(1);
      ClusterLoadAssignment changed =
          change.getResources(0).getResource().unpack(ClusterLoadAssignment.class);
      assertThat(changed.getClusterName()).isEqualTo(RATINGS);
      // The state-of-the-world client sees the same endpoints for it.
      DiscoveryResponse eds = sotw.request(XdsTypes.ENDPOINT, all, null);
      assertThat(endpointsOf(eds, RATINGS)).isEqualTo(changed);

      // A subset that goes away is named in removed_resources, and nothing else is sent.
      delta.onNext(
          DeltaDiscoveryRequest.newBuilder()
              .setNode(NODE)
              .setTypeUrl(XdsTypes.ENDPOINT)
              .setResponseNonce(change.getNonce())
              .build());
      reviewsSubsets("[{name: v1, labels: {version: v1}}]");
      DeltaDiscoveryResponse removal = deltas.poll(20, TimeUnit.SECONDS);
      assertThat(removal).isNotNull();
      assertThat(removal.getResourcesCount()).isZero();
      assertThat(removal.getRemovedResourcesList())
          .containsExactly("outbound|9080|v2|reviews.default.svc.cluster.local");
    } finally {
      delta.onCompleted();
      slice("ratings", List.of("10.44.2.1", "10.44.2.2"));
      reviewsSubsets(REVIEWS_SUBSETS);
    }
  }

  @Test
  void anInvalidResourceFromTheApiIsReportedAndSkippedWhileTheRestServes() throws Exception {
    var bad =
        IstioResources.parse(
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings, namespace: default}
            spec:
              hosts: [ratings]
              http:
              - route:
                - destination: {host: ratings}
                  weight: 60
            """,
            dev.mesh.config.networking.VirtualService.class);
    // Weights that do not add up to 100: Istio's webhook would refuse it; a cluster without the
    // webhook stores it, and pilot must not serve it.
    bad.getSpec().http.get(0).route.get(0).weight = 60;
    bad.getSpec().http.get(0).route.add(bad.getSpec().http.get(0).route.get(0));
    client.resource(bad).createOr(op -> op.update());
    try {
      String port = pilot.getEnvironment().getProperty("local.server.port");
      var http = java.net.http.HttpClient.newHttpClient();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      String metrics = "";
      while (System.nanoTime() < deadline && !metrics.contains("pilot_invalid_config 1")) {
        metrics =
            http.send(
                    java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://127.0.0.1:" + port + "/metrics"))
                        .build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString())
                .body();
        Thread.sleep(50); // poll interval
      }
      assertThat(metrics).contains("pilot_invalid_config 1");
      try (SotwClient sotw = new SotwClient()) {
        DiscoveryResponse cds = sotw.request(XdsTypes.CLUSTER, List.of(), null);
        assertThat(names(cds, Cluster.class)).contains(RATINGS);
      }
    } finally {
      client.resource(bad).delete();
    }
  }
}
