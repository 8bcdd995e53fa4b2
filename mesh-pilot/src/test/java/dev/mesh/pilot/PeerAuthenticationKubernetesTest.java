package dev.mesh.pilot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.api.XdsTypes;
import dev.mesh.config.IstioResources;
import dev.mesh.config.security.PeerAuthentication;
import dev.mesh.local.api.MockApi;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.net.ServerSocket;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Pilot against fabric8's mock API server: MeshConfig's trust domain from ConfigMap {@code mesh},
 * and a STRICT PeerAuthentication applied through the API changes the sidecar's virtualInbound over
 * ADS from PERMISSIVE's TLS and plaintext chains to TLS chains only, and back when deleted.
 */
@EnableKubernetesMockClient(crud = true)
class PeerAuthenticationKubernetesTest {
  static KubernetesClient client;
  static KubernetesMockServer server;
  static ConfigurableApplicationContext pilot;
  static ManagedChannel channel;
  static final Node NODE =
      Node.newBuilder()
          .setId("sidecar~10.44.1.1~reviews-v1.default~default.svc.cluster.local")
          .build();

  @BeforeAll
  static void start() throws Exception {
    client
        .configMaps()
        .inNamespace("mesh-system")
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("mesh")
                .withNamespace("mesh-system")
                .endMetadata()
                .withData(Map.of("mesh", "trustDomain: example.org\n"))
                .build())
        .create();
    client
        .services()
        .inNamespace("default")
        .resource(
            new ServiceBuilder()
                .withNewMetadata()
                .withName("reviews")
                .withNamespace("default")
                .endMetadata()
                .withNewSpec()
                .withClusterIP("10.96.0.20")
                .addNewPort()
                .withName("http")
                .withPort(9080)
                .endPort()
                .endSpec()
                .build())
        .create();
    client
        .pods()
        .inNamespace("default")
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("reviews-v1")
                .withNamespace("default")
                .addToLabels("app", "reviews")
                .addToLabels("security.istio.io/tlsMode", "istio")
                .endMetadata()
                .withNewSpec()
                .withServiceAccountName("bookinfo-reviews")
                .addNewContainer()
                .withName("reviews")
                .withImage("reviews")
                .endContainer()
                .endSpec()
                .withNewStatus()
                .withPodIP("10.44.1.1")
                .endStatus()
                .build())
        .create();
    client
        .discovery()
        .v1()
        .endpointSlices()
        .inNamespace("default")
        .resource(
            new EndpointSliceBuilder()
                .withNewMetadata()
                .withName("reviews-abc")
                .withNamespace("default")
                .addToLabels("kubernetes.io/service-name", "reviews")
                .endMetadata()
                .withAddressType("IPv4")
                .addNewPort()
                .withName("http")
                .withPort(9080)
                .endPort()
                .addNewEndpoint()
                .withAddresses("10.44.1.1")
                .endEndpoint()
                .build())
        .create();
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
            "--validation-port=0",
            // Outside a cluster pilot is no CA, so by default it sends no TLS: asked for here.
            "--mesh.mtls.enabled=true");
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
    dev.mesh.local.api.ApiUsage.record(server, PeerAuthenticationKubernetesTest.class);
  }

  /** One ADS stream; each response is ACKed, so the next one is a change. */
  static final class Stream implements AutoCloseable {
    final LinkedBlockingQueue<DiscoveryResponse> responses = new LinkedBlockingQueue<>();
    final StreamObserver<DiscoveryRequest> requests =
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

    DiscoveryResponse next(String type, DiscoveryResponse ack) throws InterruptedException {
      DiscoveryRequest.Builder r = DiscoveryRequest.newBuilder().setNode(NODE).setTypeUrl(type);
      if (ack != null) {
        r.setVersionInfo(ack.getVersionInfo()).setResponseNonce(ack.getNonce());
      }
      requests.onNext(r.build());
      DiscoveryResponse response = responses.poll(20, TimeUnit.SECONDS);
      assertThat(response).as("a %s response within 20 s", type).isNotNull();
      return response;
    }

    @Override
    public void close() {
      requests.onCompleted();
    }
  }

  static List<String> transports(DiscoveryResponse lds, int port) throws Exception {
    for (var any : lds.getResourcesList()) {
      Listener l = any.unpack(Listener.class);
      if (l.getName().equals("virtualInbound")) {
        return l.getFilterChainsList().stream()
            .filter(c -> c.getFilterChainMatch().getDestinationPort().getValue() == port)
            .map(FilterChain::getFilterChainMatch)
            .map(m -> m.getTransportProtocol())
            .toList();
      }
    }
    throw new AssertionError("no virtualInbound in " + lds.getResourcesCount() + " listeners");
  }

  @Test
  void aStrictPolicyThroughTheApiLeavesOnlyTlsChainsOnTheInboundListener() throws Exception {
    try (Stream ads = new Stream()) {
      DiscoveryResponse lds = ads.next(XdsTypes.LISTENER, null);
      assertThat(transports(lds, 9080)).containsExactly("tls", "raw_buffer");
      client
          .resources(PeerAuthentication.class)
          .inNamespace("default")
          .resource(
              IstioResources.parse(
                  """
                  apiVersion: security.istio.io/v1
                  kind: PeerAuthentication
                  metadata: {name: default, namespace: default}
                  spec: {mtls: {mode: STRICT}}
                  """,
                  PeerAuthentication.class))
          .create();
      DiscoveryResponse strict = ads.next(XdsTypes.LISTENER, lds);
      assertThat(transports(strict, 9080)).containsExactly("tls");
      client
          .resources(PeerAuthentication.class)
          .inNamespace("default")
          .withName("default")
          .delete();
      DiscoveryResponse back = ads.next(XdsTypes.LISTENER, strict);
      assertThat(transports(back, 9080)).containsExactly("tls", "raw_buffer");
    }
  }

  @Test
  void theTrustDomainOfMeshConfigNamesTheDestinationsIdentity() throws Exception {
    try (Stream ads = new Stream()) {
      DiscoveryResponse cds = ads.next(XdsTypes.CLUSTER, null);
      Cluster reviews = null;
      for (var any : cds.getResourcesList()) {
        Cluster c = any.unpack(Cluster.class);
        if (c.getName().equals("outbound|9080||reviews.default.svc.cluster.local")) {
          reviews = c;
        }
      }
      assertThat(reviews).isNotNull();
      UpstreamTlsContext tls =
          reviews
              .getTransportSocketMatches(0)
              .getTransportSocket()
              .getTypedConfig()
              .unpack(UpstreamTlsContext.class);
      assertThat(
              tls.getCommonTlsContext()
                  .getCombinedValidationContext()
                  .getDefaultValidationContext()
                  .getMatchTypedSubjectAltNames(0)
                  .getMatcher()
                  .getExact())
          .isEqualTo("spiffe://example.org/ns/default/sa/bookinfo-reviews");
    }
  }
}
