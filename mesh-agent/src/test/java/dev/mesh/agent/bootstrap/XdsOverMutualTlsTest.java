package dev.mesh.agent.bootstrap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.agent.config.AgentSettings;
import dev.mesh.agent.identity.IdentityFiles;
import dev.mesh.agent.identity.PilotCaUnderTest;
import dev.mesh.agent.identity.WorkloadIdentity;
import dev.mesh.agent.sds.SdsServer;
import dev.mesh.api.SpiffeId;
import dev.mesh.local.LogCapture;
import dev.mesh.proxy.server.ProxyServer;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.bootstrap.v3.Admin;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sidecar's xDS over mutual TLS, all parts real: pilot's CA serving java-control-plane's ADS on
 * its TLS port (so pilot's check of the client certificate and node applies), the agent's
 * certificate and SDS, the bootstrap the agent writes, and the proxy reading it. The proxy starts
 * before the certificate exists, as it may in a pod: it waits for its secrets, then connects.
 */
@EnableKubernetesMockClient(crud = true)
class XdsOverMutualTlsTest {
  static KubernetesClient client;
  static KubernetesMockServer server;
  static final String NODE = "sidecar~10.44.0.9~sleep-1.default~default.svc.cluster.local";
  static final String CLUSTER = "outbound|80||example.default.svc.cluster.local";

  @TempDir Path dir;

  @Test
  void theProxyGetsItsConfigOverMutualTlsOnceItsCertificateArrives() throws Exception {
    PilotCaUnderTest.prepare(server, client);
    SimpleCache<String> cache = new SimpleCache<>(node -> node.getId());
    cache.setSnapshot(
        NODE,
        Snapshot.create(
            List.of(cluster()),
            "1",
            List.of(),
            "1",
            List.of(),
            "1",
            List.of(),
            "1",
            List.of(),
            "1"));
    V3DiscoveryServer ads = new V3DiscoveryServer(cache);
    IdentityFiles files = new IdentityFiles(dir).token(PilotCaUnderTest.SLEEP_TOKEN);
    try (PilotCaUnderTest pilot =
            PilotCaUnderTest.start(client, 0, ads.getAggregatedDiscoveryServiceImpl());
        LogCapture log = new LogCapture("dev.mesh.proxy")) {
      files.root(pilot.rootPem());
      AgentSettings settings = settings(files, pilot.address());
      WorkloadIdentity identity =
          new WorkloadIdentity(
              settings.identity(), new SpiffeId("cluster.local", "default", "sleep"));
      SdsServer sds = new SdsServer(files.socket, identity);
      sds.start();
      ProxyServer proxy = null;
      try {
        proxy = new ProxyServer(onFreePorts(BootstrapWriter.bootstrap(settings)), 1).start();
        ProxyServer started = proxy;
        assertThat(
                dev.mesh.local.Build.eventually(
                    () -> log.has("waiting for TLS secrets [default, ROOTCA]"),
                    Duration.ofSeconds(20)))
            .as("with no certificate yet, the xDS client waits for it")
            .isTrue();
        assertThat(started.clusters().get(CLUSTER)).isNull();

        identity.start();
        assertThat(
                dev.mesh.local.Build.eventually(
                    () -> started.clusters().get(CLUSTER) != null, Duration.ofSeconds(30)))
            .as("CDS from pilot's TLS port, with the workload certificate as the client's")
            .isTrue();
        assertThat(log.lines()).noneMatch(l -> l.contains("xDS") && l.contains("retrying"));
      } finally {
        if (proxy != null) {
          proxy.close();
        }
        sds.close();
        identity.close();
      }
    }
  }

  /** Pod sleep-1 of default, its token and root in {@code files}, pilot (and CA) at {@code at}. */
  private AgentSettings settings(IdentityFiles files, String at) {
    Map<String, String> env = new HashMap<>();
    env.put("POD_NAME", "sleep-1");
    env.put("POD_NAMESPACE", "default");
    env.put("INSTANCE_IP", "10.44.0.9");
    env.put("SERVICE_ACCOUNT", "sleep");
    env.put("CA_ADDR", at);
    env.put("PROXY_CONFIG", "{\"discoveryAddress\": \"" + at + "\"}");
    env.put("MESH_CONFIG_DIR", dir.resolve("config").toString());
    env.put("MESH_TOKEN_PATH", files.token.toString());
    env.put("MESH_CA_ROOT_CERT", files.root.toString());
    env.put("MESH_SDS_SOCKET", files.socket.toString());
    return AgentSettings.fromEnvironment(env);
  }

  /**
   * The agent's bootstrap with admin on a free port and without the 15090 listener: this test
   * shares the machine's loopback, where the sidecar's fixed ports may be taken.
   */
  private static Bootstrap onFreePorts(Bootstrap b) {
    Bootstrap.Builder out = b.toBuilder();
    out.setAdmin(Admin.newBuilder().setAddress(socket("127.0.0.1", 0)));
    out.getStaticResourcesBuilder().clearListeners();
    return out.build();
  }

  private static Cluster cluster() {
    return Cluster.newBuilder()
        .setName(CLUSTER)
        .setType(Cluster.DiscoveryType.STATIC)
        .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1))
        .setLoadAssignment(
            ClusterLoadAssignment.newBuilder()
                .setClusterName(CLUSTER)
                .addEndpoints(
                    LocalityLbEndpoints.newBuilder()
                        .addLbEndpoints(
                            LbEndpoint.newBuilder()
                                .setEndpoint(
                                    Endpoint.newBuilder().setAddress(socket("127.0.0.1", 9))))))
        .build();
  }

  private static Address socket(String host, int port) {
    return Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port))
        .build();
  }
}
