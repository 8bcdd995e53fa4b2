package dev.mesh.e2e.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.opentest4j.TestAbortedException;

/**
 * The kind profile where kind cannot run (as on our machines): the scenarios are skipped with a
 * message saying what is missing, instead of failing or hanging.
 */
class KindSkipTest {
  @TempDir Path bin;

  private void command(String name, String script) throws Exception {
    Path p = bin.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + script + "\n");
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private Map<String, String> path() {
    return Map.of("PATH", bin + ":/nonexistent");
  }

  @Test
  void withNeitherCommandBothAreNamed() {
    String why = KindMeshCluster.unavailable(path());
    assertThat(why)
        .contains("the kind command is not on PATH")
        .contains("the docker command is not on PATH")
        .contains("./mvnw verify");
  }

  @Test
  void aDockerCliWithoutAnEngineIsReportedWithWhatDockerSaid() throws Exception {
    command("kind", "exit 0");
    command(
        "docker",
        "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2; exit 1");
    String why = KindMeshCluster.unavailable(path());
    assertThat(why)
        .doesNotContain("kind command")
        .contains("no Docker engine answers (docker info: Cannot connect to the Docker daemon");
  }

  @Test
  void withKindAndAnEngineNothingIsMissing() throws Exception {
    command("kind", "exit 0");
    command("docker", "echo 27.3.1");
    assertThat(KindMeshCluster.unavailable(path())).isNull();
  }

  @Test
  void theScenariosAreSkippedWithTheReasonOnThisMachine() {
    String why = KindMeshCluster.unavailable(System.getenv());
    org.junit.jupiter.api.Assumptions.assumeTrue(
        why != null, "kind can run here: the profile would create a cluster");
    String before = System.getProperty("mesh.e2e.cluster");
    System.setProperty("mesh.e2e.cluster", "kind");
    try {
      assertThatThrownBy(() -> MeshClusters.open(Path.of("..")))
          .isInstanceOf(TestAbortedException.class)
          .hasMessageContaining("kind profile skipped: ")
          .hasMessageContaining(why);
    } finally {
      if (before == null) {
        System.clearProperty("mesh.e2e.cluster");
      } else {
        System.setProperty("mesh.e2e.cluster", before);
      }
    }
  }
}
