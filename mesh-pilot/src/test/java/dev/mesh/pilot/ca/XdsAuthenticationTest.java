package dev.mesh.pilot.ca;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.LogCapture;
import dev.mesh.pilot.registry.FileRegistry;
import dev.mesh.pilot.xds.Problems;
import dev.mesh.pilot.xds.XdsPeerAuthentication;
import dev.mesh.pilot.xds.XdsServer;
import dev.mesh.security.Csr;
import dev.mesh.security.WorkloadKeys;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ADS on pilot's TLS port as a workload meets it: refused without a client certificate, refused for
 * a node of another namespace than its certificate's, served with its own; the CA on the same port
 * still answers a caller with only its token.
 */
@EnableKubernetesMockClient(crud = true)
class XdsAuthenticationTest {
  static KubernetesClient client;
  static KubernetesMockServer server;
  @TempDir static Path config;

  static XdsServer xds;
  static PilotCa pilot;
  static String root;
  static LogCapture log;

  @BeforeAll
  static void start() throws Exception {
    CaTestSupport.answerTokenReviews(server);
    CaTestSupport.namespace(client, "mesh-system");
    CaTestSupport.namespace(client, "default");
    xds = new XdsServer(new FileRegistry(config), "cluster.local", new Problems());
    xds.start();
    pilot =
        PilotCa.start(
            client,
            new PilotCa.Settings("mesh-system", "cluster.local", 0, "127.0.0.1", List.of()),
            xds.ads());
    root = pilot.rootPem();
    log = new LogCapture(XdsPeerAuthentication.class.getName());
  }

  @AfterAll
  static void stop() {
    log.close();
    pilot.close();
    xds.close();
  }

  @Test
  void aStreamWithoutAClientCertificateIsUnauthenticated() throws Exception {
    ManagedChannel channel = CaTestSupport.channel(pilot.port(), root);
    try {
      Status status = refused(channel, node("sleep-1", "default"));
      assertThat(status.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(status.getDescription()).contains("needs a client certificate");
      assertThat(log.lines())
          .anyMatch(l -> l.contains("UNAUTHENTICATED") && l.contains("127.0.0.1"));

      // The CA on the same port takes the token alone, as before.
      assertThat(
              CaTestSupport.call(
                  channel,
                  CaTestSupport.SLEEP_TOKEN,
                  Csr.build(WorkloadKeys.ecdsaP256(), List.of()),
                  null))
          .hasSize(2);
    } finally {
      CaTestSupport.close(channel);
    }
  }

  @Test
  void aNodeOfAnotherNamespaceIsPermissionDenied() throws Exception {
    ManagedChannel channel = CaTestSupport.workloadChannel(pilot.port(), root);
    try {
      Status status = refused(channel, node("sleep-1", "other"));
      assertThat(status.getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(status.getDescription())
          .contains("namespace 'other'")
          .contains("spiffe://cluster.local/ns/default/sa/sleep")
          .contains("namespace 'default'");
      assertThat(log.lines())
          .filteredOn(l -> l.contains("PERMISSION_DENIED"))
          .hasSize(1)
          .allMatch(l -> l.contains("127.0.0.1"));
    } finally {
      CaTestSupport.close(channel);
    }
  }

  @Test
  void itsOwnNamespacesNodeGetsItsConfig() throws Exception {
    ManagedChannel channel = CaTestSupport.workloadChannel(pilot.port(), root);
    try {
      DeltaDiscoveryResponse listeners =
          firstResponse(
                  channel,
                  node("sleep-1", "default"),
                  "type.googleapis.com/envoy.config.listener.v3.Listener")
              .get(30, TimeUnit.SECONDS);
      assertThat(listeners.getResourcesList())
          .extracting(r -> r.getName())
          .contains("virtualOutbound", "virtualInbound");
    } finally {
      CaTestSupport.close(channel);
    }
  }

  private static Node node(String pod, String namespace) {
    return Node.newBuilder()
        .setId(
            "sidecar~10.44.0.9~" + pod + "." + namespace + "~" + namespace + ".svc.cluster.local")
        .build();
  }

  /** The status a delta ADS stream announcing {@code node} ends with. */
  private static Status refused(ManagedChannel channel, Node node) throws Exception {
    try {
      DeltaDiscoveryResponse r =
          firstResponse(channel, node, "type.googleapis.com/envoy.config.cluster.v3.Cluster")
              .get(30, TimeUnit.SECONDS);
      throw new AssertionError("the stream was served: " + r.getTypeUrl());
    } catch (ExecutionException e) {
      return Status.fromThrowable(e.getCause());
    }
  }

  /** Opens a delta ADS stream announcing {@code node}, subscribed to {@code typeUrl}. */
  private static CompletableFuture<DeltaDiscoveryResponse> firstResponse(
      ManagedChannel channel, Node node, String typeUrl) {
    CompletableFuture<DeltaDiscoveryResponse> first = new CompletableFuture<>();
    AggregatedDiscoveryServiceGrpc.newStub(channel)
        .deltaAggregatedResources(observer(first))
        .onNext(DeltaDiscoveryRequest.newBuilder().setNode(node).setTypeUrl(typeUrl).build());
    return first;
  }

  private static StreamObserver<DeltaDiscoveryResponse> observer(
      CompletableFuture<DeltaDiscoveryResponse> first) {
    return new StreamObserver<>() {
      @Override
      public void onNext(DeltaDiscoveryResponse r) {
        first.complete(r);
      }

      @Override
      public void onError(Throwable t) {
        first.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        first.completeExceptionally(new AssertionError("the stream ended with OK"));
      }
    };
  }
}
