package dev.mesh.agent.bootstrap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.agent.config.AgentSettings;
import dev.mesh.proxy.config.BootstrapLoader;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootstrapWriterTest {
  @Test
  void istiosSdsClusterOnTheAgentsSocketAndTheProxyAcceptsIt(@TempDir Path dir) {
    AgentSettings s =
        AgentSettings.fromEnvironment(
            Map.of(
                "POD_NAME", "sleep-1",
                "POD_NAMESPACE", "default",
                "INSTANCE_IP", "10.44.0.9",
                "MESH_CONFIG_DIR", dir.toString()));
    Bootstrap read = BootstrapLoader.load(BootstrapWriter.write(s), null);
    Cluster sds =
        read.getStaticResources().getClustersList().stream()
            .filter(c -> c.getName().equals("sds-grpc"))
            .findFirst()
            .orElseThrow();
    assertThat(sds.getType()).isEqualTo(Cluster.DiscoveryType.STATIC);
    assertThat(sds.hasHttp2ProtocolOptions()).isTrue();
    assertThat(
            sds.getLoadAssignment()
                .getEndpoints(0)
                .getLbEndpoints(0)
                .getEndpoint()
                .getAddress()
                .getPipe()
                .getPath())
        .isEqualTo("/var/run/secrets/workload-spiffe-uds/socket");
  }
}
