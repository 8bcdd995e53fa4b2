package dev.mesh.local.api;

import java.util.List;

/**
 * Points the fabric8 Kubernetes clients of this JVM at an API server (the local cluster's mock) the
 * way a user points them at a cluster: through the client's own configuration (its system
 * properties), not by handing a client in, so the code under test runs as it would in a cluster.
 */
public final class MockApi {
  private MockApi() {}

  private static final List<String> PROPERTIES =
      List.of(
          "kubernetes.master",
          "kubernetes.trust.certificates",
          "kubernetes.auth.tryKubeConfig",
          "kubernetes.auth.tryServiceAccount",
          "kubernetes.user.agent");

  public static void use(String masterUrl) {
    System.setProperty("kubernetes.master", masterUrl);
    System.setProperty("kubernetes.trust.certificates", "true");
    System.setProperty("kubernetes.auth.tryKubeConfig", "false");
    System.setProperty("kubernetes.auth.tryServiceAccount", "false");
    // Tells the code under test's requests from the test's own (ApiUsage).
    System.setProperty("kubernetes.user.agent", ApiUsage.AGENT);
  }

  /** No API server at all: the clients find nothing (no kubeconfig, no service account). */
  public static void none() {
    System.setProperty("kubernetes.master", "https://127.0.0.1:1");
    System.setProperty("kubernetes.auth.tryKubeConfig", "false");
    System.setProperty("kubernetes.auth.tryServiceAccount", "false");
  }

  public static void forget() {
    PROPERTIES.forEach(System::clearProperty);
  }
}
