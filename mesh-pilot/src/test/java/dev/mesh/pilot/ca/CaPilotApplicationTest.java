package dev.mesh.pilot.ca;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.pilot.PilotApplication;
import dev.mesh.security.Csr;
import dev.mesh.security.WorkloadKeys;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringApplication;

/**
 * Pilot as it runs in a cluster with {@code --mesh.ca.enabled=true}: one TLS port serving both the
 * CA and ADS, with a certificate the client verifies against the published root; ADS for callers
 * presenting the certificate the CA gave them.
 */
@EnableKubernetesMockClient(crud = true)
class CaPilotApplicationTest {
  static KubernetesClient client;
  static KubernetesMockServer server;

  @Test
  void theTlsPortServesTheCaAndAds() throws Exception {
    CaTestSupport.answerTokenReviews(server);
    CaTestSupport.namespace(client, "mesh-system");
    CaTestSupport.namespace(client, "default");
    dev.mesh.local.api.MockApi.use(client.getMasterUrl().toString());
    try (var pilot =
        SpringApplication.run(
            PilotApplication.class,
            "--server.port=0",
            "--spring.grpc.server.port=0",
            "--validation-port=0",
            "--mesh.ca.enabled=true",
            "--mesh.ca.port=0",
            "--mesh.ca.host=127.0.0.1")) {
      PilotCa ca = (PilotCa) pilot.getBean("pilotCa");
      ManagedChannel channel =
          CaTestSupport.channel(ca.port(), CaServiceTest.publishedRootOf(client, "default"));
      try {
        List<String> chain =
            CaTestSupport.call(
                channel,
                CaTestSupport.SLEEP_TOKEN,
                Csr.build(WorkloadKeys.ecdsaP256(), List.of()),
                null);
        assertThat(chain).hasSize(2);
      } finally {
        CaTestSupport.close(channel);
      }

      // ADS takes the workload's certificate (XdsAuthenticationTest has the refusals).
      channel =
          CaTestSupport.workloadChannel(
              ca.port(), CaServiceTest.publishedRootOf(client, "default"));
      try {
        CompletableFuture<DiscoveryResponse> first = new CompletableFuture<>();
        StreamObserver<DiscoveryRequest> requests =
            AggregatedDiscoveryServiceGrpc.newStub(channel)
                .streamAggregatedResources(
                    new StreamObserver<>() {
                      @Override
                      public void onNext(DiscoveryResponse r) {
                        first.complete(r);
                      }

                      @Override
                      public void onError(Throwable t) {
                        first.completeExceptionally(t);
                      }

                      @Override
                      public void onCompleted() {}
                    });
        requests.onNext(
            DiscoveryRequest.newBuilder()
                .setNode(
                    Node.newBuilder()
                        .setId("sidecar~10.44.0.9~sleep-1.default~default.svc.cluster.local"))
                .setTypeUrl("type.googleapis.com/envoy.config.cluster.v3.Cluster")
                .build());
        assertThat(first.get(30, TimeUnit.SECONDS).getTypeUrl())
            .isEqualTo("type.googleapis.com/envoy.config.cluster.v3.Cluster");
        requests.onCompleted();
      } finally {
        CaTestSupport.close(channel);
      }

      // A root changed by hand is put back (by pilot's own client, so its patch is recorded).
      String root = CaServiceTest.publishedRootOf(client, "default");
      client
          .configMaps()
          .inNamespace("default")
          .withName(RootCertPublisher.CONFIG_MAP)
          .edit(
              c -> {
                c.setData(java.util.Map.of(RootCertPublisher.KEY, "changed by hand"));
                return c;
              });
      assertThat(
              dev.mesh.local.Build.eventually(
                  () -> root.equals(CaServiceTest.publishedRootOf(client, "default")),
                  java.time.Duration.ofSeconds(30)))
          .as("pilot puts its root back in ConfigMap default/istio-ca-root-cert")
          .isTrue();
    } finally {
      dev.mesh.local.api.MockApi.forget();
      dev.mesh.local.api.ApiUsage.record(server, CaPilotApplicationTest.class);
    }
  }
}
