package dev.mesh.e2e.cluster;

import java.nio.file.Path;

/** Which cluster the scenarios run on: system property {@code mesh.e2e.cluster}, local or kind. */
public final class MeshClusters {
  private MeshClusters() {}

  public static MeshCluster open(Path repository) throws Exception {
    String which = System.getProperty("mesh.e2e.cluster", "local");
    switch (which) {
      case "local":
        return new LocalMeshCluster(repository);
      case "kind":
        return KindMeshCluster.start(repository);
      default:
        throw new IllegalArgumentException(
            "mesh.e2e.cluster=" + which + ": the scenarios run on 'local' or 'kind'");
    }
  }
}
