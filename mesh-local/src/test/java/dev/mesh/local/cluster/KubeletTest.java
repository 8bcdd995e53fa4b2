package dev.mesh.local.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.Build;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the local cluster does as the kubelet, seen as a user sees it: files the containers write,
 * the pod's status in the API. Containers are bash scripts (image "shell" is this machine's bash).
 */
class KubeletTest {
  static LocalCluster cluster;
  @TempDir static Path files;

  @BeforeAll
  static void start() {
    cluster =
        LocalCluster.start(
            "kubelet",
            new ImageTable()
                .add("shell", new ImageTable.Image(Map.of(), List.of("bash"), Map.of())));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static PodBuilder shell(String name, String script) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("default")
        .endMetadata()
        .withNewSpec()
        .withTerminationGracePeriodSeconds(5L)
        .addNewContainer()
        .withName("main")
        .withImage("shell")
        .withCommand("bash", "-c", script)
        .endContainer()
        .endSpec();
  }

  static List<String> lines(Path f) {
    try {
      return Files.exists(f) ? Files.readAllLines(f) : List.of();
    } catch (java.io.IOException e) {
      return List.of();
    }
  }

  static int restarts(String pod) {
    Pod p = cluster.client().pods().inNamespace("default").withName(pod).get();
    List<ContainerStatus> s = p.getStatus().getContainerStatuses();
    return s == null || s.isEmpty() ? 0 : s.get(0).getRestartCount();
  }

  @Test
  void aContainersIdentityIsItsSecurityContextsCapabilitiesIncluded() throws Exception {
    // Where both users can write: not under the test's own temporary directory (root's, 0700).
    Path seen =
        Files.createTempDirectory(
            Path.of("/tmp"), "mesh-" + ProcessHandle.current().pid() + "-identity-");
    seen.toFile().deleteOnExit();
    Files.setPosixFilePermissions(
        seen, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    String script = "grep -E '^(Uid|Gid|CapEff):' /proc/self/status > %s/%s; exec sleep 600";
    // Istio's TPROXY sidecar: root, group 1337, NET_ADMIN and nothing else.
    cluster.createPod(
        shell("tproxy", script.formatted(seen, "tproxy"))
            .editSpec()
            .editFirstContainer()
            .withNewSecurityContext()
            .withRunAsUser(0L)
            .withRunAsGroup(1337L)
            .withNewCapabilities()
            .addToAdd("NET_ADMIN")
            .addToDrop("ALL")
            .endCapabilities()
            .endSecurityContext()
            .endContainer()
            .endSpec()
            .build(),
        30);
    // Its REDIRECT one: 1337 with nothing.
    cluster.createPod(
        shell("redirect", script.formatted(seen, "redirect"))
            .editSpec()
            .editFirstContainer()
            .withNewSecurityContext()
            .withRunAsUser(1337L)
            .withRunAsGroup(1337L)
            .withNewCapabilities()
            .addToDrop("ALL")
            .endCapabilities()
            .endSecurityContext()
            .endContainer()
            .endSpec()
            .build(),
        30);
    Path tproxy = seen.resolve("tproxy");
    Path redirect = seen.resolve("redirect");
    assertThat(
            Build.eventually(
                () -> lines(tproxy).size() == 3 && lines(redirect).size() == 3,
                Duration.ofSeconds(30)))
        .as("tproxy %s, redirect %s", lines(tproxy), lines(redirect))
        .isTrue();
    List<String> asTproxy = lines(tproxy);
    List<String> asRedirect = lines(redirect);
    Files.delete(tproxy);
    Files.delete(redirect);
    Files.delete(seen);
    assertThat(asTproxy)
        .containsExactly(
            "Uid:\t0\t0\t0\t0", "Gid:\t1337\t1337\t1337\t1337", "CapEff:\t0000000000001000");
    assertThat(asRedirect)
        .containsExactly(
            "Uid:\t1337\t1337\t1337\t1337",
            "Gid:\t1337\t1337\t1337\t1337",
            "CapEff:\t0000000000000000");
  }

  @Test
  void aContainerThatExitsIsRestartedWithABackOffAndCounted() throws Exception {
    Path runs = files.resolve("crash-runs");
    cluster.createPod(shell("crash", "echo run >> " + runs + "; sleep 0.3; exit 3").build(), 30);
    assertThat(
            Build.eventually(
                () -> lines(runs).size() >= 3 && restarts("crash") >= 2, Duration.ofSeconds(30)))
        .as("runs %s, restarts %d", lines(runs), restarts("crash"))
        .isTrue();
  }

  @Test
  void aContainerFailingItsLivenessProbeIsRestarted() throws Exception {
    Path starts = files.resolve("live-starts");
    Path alive = files.resolve("live-alive");
    Pod pod =
        shell("live", "echo start >> " + starts + "; touch " + alive + "; exec sleep 600")
            .editSpec()
            .editFirstContainer()
            .withNewLivenessProbe()
            .withNewExec()
            .withCommand("test", "-f", alive.toString())
            .endExec()
            .withPeriodSeconds(1)
            .withFailureThreshold(2)
            .endLivenessProbe()
            .endContainer()
            .endSpec()
            .build();
    cluster.createPod(pod, 30);
    assertThat(Build.eventually(() -> lines(starts).size() == 1, Duration.ofSeconds(10))).isTrue();
    Files.delete(alive);
    assertThat(
            Build.eventually(
                () -> lines(starts).size() == 2 && restarts("live") == 1, Duration.ofSeconds(30)))
        .as("starts %s, restarts %d", lines(starts), restarts("live"))
        .isTrue();
  }

  @Test
  void aStartupProbeHoldsReadinessUntilItPasses() throws Exception {
    Path started = files.resolve("slow-started");
    Pod pod =
        shell("slow", "exec sleep 600")
            .editSpec()
            .editFirstContainer()
            .withNewStartupProbe()
            .withNewExec()
            .withCommand("test", "-f", started.toString())
            .endExec()
            .withPeriodSeconds(1)
            .withFailureThreshold(60)
            .endStartupProbe()
            .endContainer()
            .endSpec()
            .build();
    CompletableFuture<Pod> ready =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return cluster.createPod(pod, 60);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
            });
    // Not ready while the probe fails: the pod waits for it, however long that takes here.
    assertThat(Build.eventually(ready::isDone, Duration.ofSeconds(3))).isFalse();
    Files.writeString(started, "");
    assertThat(ready.get(30, java.util.concurrent.TimeUnit.SECONDS).getStatus().getPhase())
        .isEqualTo("Running");
  }

  @Test
  void aPreStopHookRunsBeforeTheSigterm() throws Exception {
    Path events = files.resolve("stop-events");
    Pod pod =
        shell(
                "stopper",
                "trap 'echo term >> "
                    + events
                    + "; exit 0' TERM; echo up >> "
                    + events
                    + "; while :; do sleep 0.1; done")
            .editSpec()
            .editFirstContainer()
            .withNewLifecycle()
            .withNewPreStop()
            .withNewExec()
            .withCommand("bash", "-c", "echo prestop >> " + events)
            .endExec()
            .endPreStop()
            .endLifecycle()
            .endContainer()
            .endSpec()
            .build();
    cluster.createPod(pod, 30);
    assertThat(Build.eventually(() -> lines(events).contains("up"), Duration.ofSeconds(10)))
        .isTrue();
    cluster.deletePod("default", "stopper");
    assertThat(lines(events)).containsExactly("up", "prestop", "term");
  }

  @Test
  void aJobWithRestartPolicyOnFailureRunsItsContainerAgainUntilItSucceeds() throws Exception {
    Path tries = files.resolve("job-tries");
    cluster.createJob(
        new JobBuilder()
            .withNewMetadata()
            .withName("retry")
            .withNamespace("default")
            .endMetadata()
            .withNewSpec()
            .withNewTemplate()
            .withNewSpec()
            .withRestartPolicy("OnFailure")
            .addNewContainer()
            .withName("main")
            .withImage("shell")
            .withCommand(
                "bash", "-c", "echo try >> " + tries + "; [ $(wc -l < " + tries + ") -ge 2 ]")
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build());
    var job = cluster.client().batch().v1().jobs().inNamespace("default").withName("retry");
    assertThat(
            Build.eventually(
                () -> {
                  var st = job.get().getStatus();
                  return st != null && st.getSucceeded() != null && st.getSucceeded() == 1;
                },
                Duration.ofSeconds(30)))
        .as("the Job succeeded; tries %s", lines(tries))
        .isTrue();
    assertThat(lines(tries)).hasSize(2);
    Pod pod =
        cluster
            .client()
            .pods()
            .inNamespace("default")
            .withLabel("job-name", "retry")
            .list()
            .getItems()
            .get(0);
    assertThat(pod.getStatus().getPhase()).isEqualTo("Succeeded");
    assertThat(pod.getStatus().getContainerStatuses().get(0).getRestartCount()).isEqualTo(1);
  }
}
