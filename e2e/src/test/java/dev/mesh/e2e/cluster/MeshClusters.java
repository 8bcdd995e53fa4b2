package dev.mesh.e2e.cluster;

import dev.mesh.local.cluster.LocalCluster;
import dev.mesh.local.kube.KubeBinaries;
import java.nio.file.Path;

/**
 * Which cluster the scenarios run on: system property {@code mesh.e2e.cluster}, local or kind; the
 * local one on which API: {@code mesh.e2e.api}, kubernetes (the real control plane built from
 * Kubernetes' Go modules), embedded (fabric8's mock API, which needs only a JDK) or empty, the
 * default: kubernetes where its binaries are built, else embedded, a failure under CI=true.
 */
public final class MeshClusters {
  private MeshClusters() {}

  public static MeshCluster open(Path repository) throws Exception {
    String which = System.getProperty("mesh.e2e.cluster", "local");
    switch (which) {
      case "local":
        return new LocalMeshCluster(repository, api());
      case "kind":
        return KindMeshCluster.start(repository);
      default:
        throw new IllegalArgumentException(
            "mesh.e2e.cluster=" + which + ": the scenarios run on 'local' or 'kind'");
    }
  }

  /** The API of the local cluster; falling back to the embedded one is a failure under CI. */
  public static LocalCluster.Api api() {
    String asked = System.getProperty("mesh.e2e.api", "");
    switch (asked) {
      case "embedded":
        return LocalCluster.Api.EMBEDDED;
      case "kubernetes":
        return LocalCluster.Api.KUBERNETES;
      case "":
        break;
      default:
        throw new IllegalArgumentException(
            "mesh.e2e.api=" + asked + ": the local cluster runs on 'kubernetes' or 'embedded'");
    }
    KubeBinaries binaries = KubeBinaries.pinned();
    if (binaries.present()) {
      return LocalCluster.Api.KUBERNETES;
    }
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(
          "CI=true and the e2e suite cannot run on the real control plane: "
              + binaries.describeMissing());
    }
    System.err.println(
        "e2e: on the embedded API (fabric8's mock), not Kubernetes: " + binaries.describeMissing());
    return LocalCluster.Api.EMBEDDED;
  }
}
