package dev.mesh.local.netns;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class NetworkNamespaceTest {

  @Test
  void aNamespaceIsNamedByItsOwnerAndGoneAfterClose() {
    String name;
    try (NetworkNamespace ns = NetworkNamespace.create("t-basic")) {
      name = ns.name();
      assertThat(name).isEqualTo("mesh-" + ProcessHandle.current().pid() + "-t-basic");
      assertThat(Sweeper.list()).contains(name);
      assertThat(ns.exec("ip", "-o", "link", "show", "lo").stdout()).contains("UP");
    }
    assertThat(Sweeper.list()).doesNotContain(name);
    assertThat(Path.of("/run/netns", name)).doesNotExist();
  }

  @Test
  void closingKillsWhatRunsInside(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Process sleeper;
    try (NetworkNamespace ns = NetworkNamespace.create("t-procs")) {
      sleeper = ns.start(java.util.List.of("sleep", "300"), dir.resolve("log"));
      assertThat(sleeper.isAlive()).isTrue();
    }
    assertThat(sleeper.waitFor(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void theSweepRemovesOnlyDeadOwnersLeftovers() throws Exception {
    // A pid that is certainly dead: a process that has exited.
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    long deadPid = p.pid();
    String leftover = "mesh-" + deadPid + "-t-left";
    Host.run("ip", "netns", "add", leftover).orThrow("adding " + leftover);
    Process orphan = new ProcessBuilder("ip", "netns", "exec", leftover, "sleep", "300").start();
    try (NetworkNamespace mine = NetworkNamespace.create("t-mine")) {
      // create() swept: the dead owner's namespace is gone, this live owner's is there.
      assertThat(Sweeper.list()).doesNotContain(leftover).contains(mine.name());
      assertThat(Sweeper.sweepDeadOwners()).isEmpty();
      assertThat(Sweeper.list()).contains(mine.name());
      assertThat(orphan.waitFor(10, TimeUnit.SECONDS))
          .as("the leftover's process was killed")
          .isTrue();
    } finally {
      orphan.destroyForcibly();
      Host.run("ip", "netns", "del", leftover);
    }
    assertThat(Files.exists(Path.of("/run/netns", leftover))).isFalse();
  }

  @Test
  void namesResolveThroughTheNamespacesHostsFileAndItsChanges() {
    String name;
    try (NetworkNamespace ns = NetworkNamespace.create("t-hosts")) {
      name = ns.name();
      ns.writeHosts("127.0.0.1 localhost\n127.0.0.7 reviews.default.svc.cluster.local\n");
      assertThat(ns.exec("getent", "hosts", "reviews.default.svc.cluster.local").stdout())
          .startsWith("127.0.0.7");
      ns.writeHosts("127.0.0.1 localhost\n127.0.0.8 reviews.default.svc.cluster.local\n");
      assertThat(ns.exec("getent", "hosts", "reviews.default.svc.cluster.local").stdout())
          .startsWith("127.0.0.8");
    }
    assertThat(Path.of("/etc/netns", name)).doesNotExist();
  }

  @Test
  void twoNamespacesLinkedByAVethReachEachOther() {
    try (NetworkNamespace a = NetworkNamespace.create("t-link-a");
        NetworkNamespace b = NetworkNamespace.create("t-link-b")) {
      assertThat(a.exec("bash", "-c", "exec 3<>/dev/tcp/10.250.9.2/9").stderr())
          .as("before the link, b's address is not reachable from a")
          .doesNotContain("Connection refused");
      a.linkTo(b, "10.250.9.1/30", "10.250.9.2/30");
      // Nothing listens on port 9 in b: its kernel refuses the connection, which proves the path.
      assertThat(a.exec("bash", "-c", "exec 3<>/dev/tcp/10.250.9.2/9").stderr())
          .contains("Connection refused");
    }
  }
}
