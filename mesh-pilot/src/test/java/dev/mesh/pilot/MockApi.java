package dev.mesh.pilot;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;

/**
 * Points pilot's Kubernetes client at fabric8's mock API server the way a user points it at a
 * cluster: through the client's own configuration (here its system properties), not by injection.
 */
final class MockApi {
  private MockApi() {}

  private static final List<String> PROPERTIES =
      List.of(
          "kubernetes.master",
          "kubernetes.trust.certificates",
          "kubernetes.auth.tryKubeConfig",
          "kubernetes.auth.tryServiceAccount");

  static void use(KubernetesClient mock) {
    System.setProperty("kubernetes.master", mock.getMasterUrl().toString());
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.auth.tryKubeConfig", "false");
    System.setProperty("kubernetes.auth.tryServiceAccount", "false");
  }

  static void forget() {
    PROPERTIES.forEach(System::clearProperty);
  }
}
