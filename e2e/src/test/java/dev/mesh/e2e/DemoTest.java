package dev.mesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.e2e.cluster.MeshClusters;
import dev.mesh.local.Build;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.Sweeper;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The README's first command, as a user runs it (the meshctl jar, as root), start to teardown. */
class DemoTest {
  /** The API the e2e suite runs on: the demo's {@code --api}. */
  static final dev.mesh.local.cluster.LocalCluster.Api API = MeshClusters.api();

  /** The README's command (the embedded API), and {@code --api=kubernetes} where it is built. */
  static List<String> apis() {
    return API == dev.mesh.local.cluster.LocalCluster.Api.KUBERNETES
        ? List.of("embedded", "kubernetes")
        : List.of("embedded");
  }

  @ParameterizedTest(name = "--api={0}")
  @MethodSource("apis")
  void theDemoRunsTheSampleAndPrintsTheSplitWithinItsBound(String api) throws Exception {
    Process demo = startOn(api, "--for", "1s", "--requests", "200");
    String out =
        new String(demo.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(demo.waitFor(5, java.util.concurrent.TimeUnit.MINUTES)).isTrue();
    assertThat(demo.exitValue()).as(out).isZero();
    assertThat(out.split("with its sidecar", -1)).hasSize(6); // five injected pods
    assertThat(out).contains("pod bookinfo/sleep running at").contains("no sidecar");
    // 70/30 over 200 answers: v1 within a 99.9% binomial bound (3.29 sd of 6.5), v2 never.
    assertThat(count(out, "v1")).isBetween(119, 161);
    assertThat(count(out, "v2")).isZero();
    assertThat(count(out, "v1") + count(out, "v3")).isEqualTo(200);
    assertThat(out)
        .containsPattern("productpage-v1\\.bookinfo\\s+SYNCED\\s+SYNCED\\s+SYNCED\\s+SYNCED");
    assertThat(out).contains("curl through the mesh:");
    if (api.equals("kubernetes")) {
      // What it prints to try: the built kubectl with the cluster's kubeconfig.
      assertThat(out)
          .containsPattern("KUBECONFIG=\\S+ \\S+/kubectl get pods -A")
          .contains("logs -n bookinfo productpage-v1 -c istio-proxy");
    }
    // The latency the client saw, from the client's own timing of each request.
    assertThat(out).containsPattern("p50 \\d+\\.\\d ms, p99 \\d+\\.\\d ms over 200 requests");
    // Torn down: no namespace, directory or process of its own left.
    assertThat(leftovers(demo.pid())).isEmpty();
  }

  @Test
  void aDemoKilledMidwayLeavesNothingAfterTheNextSweep() throws Exception {
    Process demo = start("--for", "10m");
    var output = new java.io.BufferedReader(new java.io.InputStreamReader(demo.getInputStream()));
    StringBuilder seen = new StringBuilder();
    for (String line = output.readLine(); ; line = output.readLine()) {
      assertThat(line)
          .as("the demo ended before its second pod ran; it said:\n%s", seen)
          .isNotNull();
      seen.append(line).append('\n');
      if (line.contains("pod bookinfo/reviews-v1 running at")) {
        break;
      }
    }
    List<ProcessHandle> started = demo.descendants().toList();
    assertThat(started).isNotEmpty();
    demo.destroyForcibly(); // SIGKILL: no shutdown hook runs
    assertThat(demo.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat(leftovers(demo.pid())).as("what the killed demo left").isNotEmpty();

    Sweeper.sweepDeadOwners(); // what the next start does first
    assertThat(leftovers(demo.pid())).isEmpty();
    assertThat(
            Build.eventually(
                () -> started.stream().noneMatch(ProcessHandle::isAlive),
                java.time.Duration.ofSeconds(30)))
        .as("every process the demo started is gone")
        .isTrue();
  }

  static Process start(String... args) throws java.io.IOException {
    return startOn(API.name().toLowerCase(java.util.Locale.ROOT), args);
  }

  static Process startOn(String api, String... args) throws java.io.IOException {
    List<String> cmd =
        new java.util.ArrayList<>(
            List.of(
                NetworkNamespace.javaBinary(),
                "-Dmesh.home=" + Path.of("..").toAbsolutePath().normalize(),
                "-jar",
                Build.jar("mesh-istioctl", "meshctl.jar").toString(),
                "demo",
                "--api=" + api));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).start();
  }

  /**
   * The network namespaces, /tmp directories (the real control plane's etcd data among them) and
   * host mount points' users named after a process.
   */
  static List<String> leftovers(long pid) throws java.io.IOException {
    List<String> out = new java.util.ArrayList<>();
    for (String ns : Sweeper.list()) {
      if (ns.startsWith("mesh-" + pid + "-")) {
        out.add(ns);
      }
    }
    try (var dirs = java.nio.file.Files.list(Path.of("/tmp"))) {
      dirs.map(d -> d.getFileName().toString())
          .filter(d -> d.startsWith("mesh-" + pid + "-"))
          .forEach(out::add);
    }
    Path users = dev.mesh.local.cluster.volume.MountPoints.REGISTRY.resolve("users");
    if (java.nio.file.Files.isDirectory(users)) {
      try (var held = java.nio.file.Files.list(users)) {
        held.map(u -> u.getFileName().toString())
            .filter(u -> u.startsWith(pid + "-"))
            .forEach(u -> out.add("mount user " + u));
      }
    }
    return out;
  }

  static int count(String out, String version) {
    Matcher m = Pattern.compile("reviews " + version + "\\s+(\\d+)").matcher(out);
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }
}
