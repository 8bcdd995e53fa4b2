package dev.mesh.pilot;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.pilot.registry.KubernetesRegistry;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

class KubernetesRegistryTest {
  @Test
  void withNoApiServerItSaysWhatToDoInsteadOfWaiting() throws Exception {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort(); // nothing listens there once closed
    }
    try (var client =
        new KubernetesClientBuilder()
            .withConfig(
                new ConfigBuilder()
                    .withMasterUrl("https://127.0.0.1:" + closed)
                    .withRequestRetryBackoffLimit(0)
                    .build())
            .build()) {
      assertThatThrownBy(() -> KubernetesRegistry.requireReachable(client))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("no Kubernetes API at https://127.0.0.1:" + closed)
          .hasMessageContaining("--config-dir=DIR");
    }
  }
}
