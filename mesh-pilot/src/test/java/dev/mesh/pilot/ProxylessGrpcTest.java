package dev.mesh.pilot;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.NameResolverRegistry;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.xds.XdsNameResolverProvider;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Proxyless gRPC, as Istio has it: grpc-java's own xDS client (grpc-xds), bootstrapped with a node
 * asking for the gRPC generator, resolves {@code xds:///greeter.default.svc.cluster.local:PORT}
 * through pilot and reaches the endpoint the VirtualService picks (subset v2 of two pods).
 */
class ProxylessGrpcTest {
  @TempDir static Path dir;
  static ConfigurableApplicationContext pilot;
  static Server v1;
  static Server v2;
  static int port;
  static int xdsPort;

  @BeforeAll
  static void start() throws Exception {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.2"))) {
      port = s.getLocalPort();
    }
    v1 = server("127.0.0.2", "v1");
    v2 = server("127.0.0.3", "v2");
    Path config = Files.createDirectories(dir.resolve("config"));
    Files.writeString(
        config.resolve("greeter.yaml"),
        """
        apiVersion: v1
        kind: Service
        metadata: {name: greeter, namespace: default}
        spec:
          clusterIP: 10.96.0.30
          ports: [{name: grpc, port: %1$d, targetPort: %1$d}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: greeter-a, namespace: default, labels: {kubernetes.io/service-name: greeter}}
        addressType: IPv4
        ports: [{name: grpc, port: %1$d}]
        endpoints:
        - addresses: ["127.0.0.2"]
        - addresses: ["127.0.0.3"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: greeter-v1, namespace: default, labels: {app: greeter, version: v1}}
        spec: {containers: [{name: greeter, image: greeter}]}
        status: {podIP: 127.0.0.2}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: greeter-v2, namespace: default, labels: {app: greeter, version: v2}}
        spec: {containers: [{name: greeter, image: greeter}]}
        status: {podIP: 127.0.0.3}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: greeter, namespace: default}
        spec:
          host: greeter
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: greeter, namespace: default}
        spec:
          hosts: [greeter]
          http:
          - route:
            - destination: {host: greeter, subset: v2}
        """
            .formatted(port));
    try (ServerSocket s = new ServerSocket(0)) {
      xdsPort = s.getLocalPort();
    }
    pilot =
        SpringApplication.run(
            PilotApplication.class,
            "--config-dir=" + config,
            "--server.port=0",
            "--validation-port=0",
            "--spring.grpc.server.port=" + xdsPort);
    NameResolverRegistry.getDefaultRegistry()
        .register(
            XdsNameResolverProvider.createForTest(
                "xds-pilot",
                Map.of(
                    "xds_servers",
                    List.of(
                        Map.of(
                            "server_uri",
                            "127.0.0.1:" + xdsPort,
                            "channel_creds",
                            List.of(Map.of("type", "insecure")),
                            "server_features",
                            List.of("xds_v3"))),
                    "node",
                    Map.of(
                        "id",
                        "sidecar~127.0.0.9~client-1.default~default.svc.cluster.local",
                        "metadata",
                        Map.of("GENERATOR", "grpc")))));
  }

  static Server server(String ip, String version) throws Exception {
    HealthStatusManager health = new HealthStatusManager();
    health.setStatus(version, HealthCheckResponse.ServingStatus.SERVING);
    return io.grpc.netty.NettyServerBuilder.forAddress(new InetSocketAddress(ip, port))
        .addService(health.getHealthService())
        .build()
        .start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (pilot != null) {
      pilot.close();
    }
    for (Server s : new Server[] {v1, v2}) {
      if (s != null) {
        s.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void grpcXdsResolvesThroughPilotAndReachesTheSubsetTheVirtualServicePicks() throws Exception {
    ManagedChannel channel =
        Grpc.newChannelBuilder(
                "xds-pilot:///greeter.default.svc.cluster.local:" + port,
                InsecureChannelCredentials.create())
            .build();
    try {
      // The v2 server knows service "v2"; the v1 server would answer NOT_FOUND.
      for (int i = 0; i < 10; i++) {
        HealthCheckResponse r =
            HealthGrpc.newBlockingStub(channel)
                .withDeadlineAfter(20, TimeUnit.SECONDS)
                .check(HealthCheckRequest.newBuilder().setService("v2").build());
        assertThat(r.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      }
    } finally {
      channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
