package dev.mesh.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the agent learns its status port, as Istio's pilot-agent: ProxyConfig, then the pod. */
class StatusPortSettingsTest {
  @TempDir Path dir;

  Path annotations(String text) throws Exception {
    return Files.writeString(dir.resolve("annotations"), text);
  }

  int statusPort(String... env) {
    String[] all = new String[env.length + 2];
    System.arraycopy(env, 0, all, 0, env.length);
    all[env.length] = "MESH_POD_ANNOTATIONS";
    all[env.length + 1] = dir.resolve("annotations").toString();
    return AgentSettings.fromEnvironment(IdentitySettingsTest.pod(all)).statusPort();
  }

  @Test
  void istiosDefaultWithoutProxyConfigOrAnnotation() {
    assertThat(statusPort()).isEqualTo(15020);
  }

  @Test
  void proxyConfigsStatusPort() {
    assertThat(statusPort("PROXY_CONFIG", "{\"statusPort\": 15999}")).isEqualTo(15999);
  }

  @Test
  void thePodsAnnotationFromTheDownwardApiWins() throws Exception {
    // Kubernetes' format for metadata.annotations: key="value", Go-quoted, sorted.
    annotations(
        """
        proxy.istio.io/config="holdApplicationUntilProxyStarts: true\\n"
        sidecar.istio.io/status="{\\"initContainers\\":[\\"istio-init\\"]}"
        status.sidecar.istio.io/port="123"\
        """);
    assertThat(statusPort("PROXY_CONFIG", "{\"statusPort\": 15999}")).isEqualTo(123);
    annotations("status.sidecar.istio.io/port=\"0\"\n");
    assertThat(statusPort()).isZero();
  }

  @Test
  void aBadValueStopsTheAgentNamingIt() throws Exception {
    annotations("status.sidecar.istio.io/port=\"70000\"\n");
    assertThatThrownBy(this::statusPort)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("annotation status.sidecar.istio.io/port")
        .hasMessageContaining("'70000'");
    Files.delete(dir.resolve("annotations"));
    assertThatThrownBy(() -> statusPort("PROXY_CONFIG", "{\"statusPort\": \"x\"}"))
        .hasMessageContaining("PROXY_CONFIG statusPort")
        .hasMessageContaining("'x'");
  }
}
