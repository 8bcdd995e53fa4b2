package dev.mesh.local.cluster.volume;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mount points made on a real filesystem: kept while any live user needs them, then removed. */
class MountPointsTest {
  @TempDir Path registry;
  @TempDir Path host;

  @Test
  void aMountPointTwoPodsNeedStaysUntilTheLastGoes() {
    MountPoints points = new MountPoints(registry);
    Path token = host.resolve("run/secrets/serviceaccount");
    Path file = host.resolve("run/secrets/config.txt");
    var a = points.acquire("default/a", List.of(new MountPoints.Point(token, false)));
    var b =
        points.acquire(
            "default/b",
            List.of(new MountPoints.Point(token, false), new MountPoints.Point(file, true)));
    assertThat(token).isEmptyDirectory();
    assertThat(file).isEmptyFile();

    a.close();
    assertThat(token).as("b still mounts there").isEmptyDirectory();

    b.close();
    assertThat(host.resolve("run")).as("made for the pods, so removed with them").doesNotExist();
    assertThat(host).exists();
  }

  @Test
  void theSweepRemovesWhatOnlyDeadProcessesNeeded() throws Exception {
    MountPoints points = new MountPoints(registry);
    Path mine = host.resolve("mine/x");
    Path theirs = host.resolve("theirs/y");
    var lease = points.acquire("default/live", List.of(new MountPoints.Point(mine, false)));
    // What a killed owner left: its user entry names a process that has exited.
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    var killed = points.acquire("default/dead", List.of(new MountPoints.Point(theirs, false)));
    assertThat(killed).as("never closed, as by a process that was killed").isNotNull();
    Path users = registry.resolve("users");
    try (var all = Files.list(users)) {
      for (Path u : all.toList()) {
        if (u.getFileName().toString().endsWith("default_dead")) {
          Files.move(u, users.resolve(gone.pid() + "-1-default_dead"));
        }
      }
    }

    assertThat(points.sweepDeadOwners()).containsExactlyInAnyOrder(theirs, host.resolve("theirs"));
    assertThat(host.resolve("theirs")).doesNotExist();
    assertThat(mine).as("a live owner's is kept").isEmptyDirectory();
    lease.close();
    assertThat(host.resolve("mine")).doesNotExist();
  }

  @Test
  void aMountPointSomethingElseFilledIsLeftOnTheHost() throws Exception {
    MountPoints points = new MountPoints(registry);
    Path dir = host.resolve("etc/app");
    var lease = points.acquire("default/p", List.of(new MountPoints.Point(dir, false)));
    Files.writeString(dir.resolve("theirs.conf"), "x");
    lease.close();
    assertThat(dir.resolve("theirs.conf")).hasContent("x");
    assertThat(Files.readString(registry.resolve("created"))).doesNotContain(dir.toString());
  }
}
