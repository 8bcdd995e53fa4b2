package dev.mesh.local.cluster;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Probe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A pod's spec run as written, as the kubelet would: in its own network namespace, the init
 * containers one after the other (each must exit 0), then the containers as processes with their
 * environment (downward API resolved), user, group and capabilities; postStart hooks before the
 * next container; readiness from the containers' readiness probes.
 */
final class RunningPod implements AutoCloseable {
  final Pod pod;
  final NetworkNamespace ns;
  final Path dir;
  private final ImageTable images;
  private final Map<String, Process> containers = new LinkedHashMap<>();

  RunningPod(Pod pod, NetworkNamespace ns, Path dir, ImageTable images) {
    this.pod = pod;
    this.ns = ns;
    this.dir = dir;
    this.images = images;
  }

  void start() throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    var spec = pod.getSpec();
    for (Container c : spec.getInitContainers()) {
      boolean sidecar = "Always".equals(c.getRestartPolicy());
      if (sidecar) {
        startContainer(c);
        continue;
      }
      Host.Result r = ns.exec(command(c).toArray(String[]::new));
      Files.writeString(dir.resolve(c.getName() + ".log"), r.stdout() + r.stderr());
      if (r.exitCode() != 0) {
        throw new IllegalStateException(
            "pod "
                + name()
                + ": init container "
                + c.getName()
                + " exited "
                + r.exitCode()
                + ": "
                + (r.stderr().isBlank() ? r.stdout() : r.stderr()).strip());
      }
    }
    for (Container c : spec.getContainers()) {
      startContainer(c);
    }
  }

  private void startContainer(Container c) throws InterruptedException {
    Process p = ns.start(command(c), dir.resolve(c.getName() + ".log"));
    containers.put(c.getName(), p);
    if (c.getLifecycle() != null
        && c.getLifecycle().getPostStart() != null
        && c.getLifecycle().getPostStart().getExec() != null) {
      List<String> hook = new ArrayList<>(runAs(c));
      hook.addAll(
          images.commandLine(
              c.getImage(), c.getLifecycle().getPostStart().getExec().getCommand(), null));
      Host.Result r = ns.exec(envPrefix(c, hook).toArray(String[]::new));
      if (r.exitCode() != 0) {
        throw new IllegalStateException(
            "pod " + name() + ": postStart of " + c.getName() + " failed: " + r.stderr().strip());
      }
    }
  }

  /** env -i with the container's environment, then the user switch, then its command line. */
  private List<String> command(Container c) {
    List<String> cmd = new ArrayList<>(runAs(c));
    cmd.addAll(images.commandLine(c.getImage(), c.getCommand(), c.getArgs()));
    return envPrefix(c, cmd);
  }

  private List<String> envPrefix(Container c, List<String> rest) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "env",
                "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/tmp"));
    images
        .image(c.getImage())
        .env()
        .forEach((k, v) -> cmd.add(k + "=" + v.replace("$(POD_DIR)", dir.toString())));
    for (EnvVar e : c.getEnv()) {
      cmd.add(e.getName() + "=" + value(e));
    }
    cmd.addAll(rest);
    return cmd;
  }

  private List<String> runAs(Container c) {
    var sc = c.getSecurityContext();
    long uid = sc == null || sc.getRunAsUser() == null ? 0 : sc.getRunAsUser();
    long gid = sc == null || sc.getRunAsGroup() == null ? uid : sc.getRunAsGroup();
    if (uid == 0 && gid == 0) {
      return List.of();
    }
    List<String> cmd =
        new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups"));
    Capabilities caps = sc.getCapabilities();
    if (caps != null && caps.getAdd() != null && !caps.getAdd().isEmpty()) {
      String list =
          String.join(",", caps.getAdd().stream().map(a -> "+" + a.toLowerCase()).toList());
      cmd.add("--inh-caps=" + list);
      cmd.add("--ambient-caps=" + list);
    } else {
      cmd.add("--inh-caps=-all");
    }
    return cmd;
  }

  /** An env var's value, the downward API resolved from the pod. */
  private String value(EnvVar e) {
    if (e.getValueFrom() == null) {
      return e.getValue() == null ? "" : e.getValue();
    }
    if (e.getValueFrom().getFieldRef() != null) {
      return switch (e.getValueFrom().getFieldRef().getFieldPath()) {
        case "metadata.name" -> pod.getMetadata().getName();
        case "metadata.namespace" -> pod.getMetadata().getNamespace();
        case "status.podIP" -> pod.getStatus().getPodIP();
        case "status.hostIP" -> pod.getStatus().getHostIP();
        case "spec.serviceAccountName" ->
            pod.getSpec().getServiceAccountName() == null
                ? "default"
                : pod.getSpec().getServiceAccountName();
        case "spec.nodeName" -> "local";
        default -> "";
      };
    }
    if (e.getValueFrom().getResourceFieldRef() != null) {
      return "2";
    }
    return "";
  }

  /** Ready when every container with a readiness probe passes it (httpGet and tcpSocket). */
  boolean ready() {
    for (Container c : allContainers()) {
      Probe probe = c.getReadinessProbe();
      if (probe == null) {
        continue;
      }
      if (probe.getHttpGet() != null) {
        int port = probe.getHttpGet().getPort().getIntVal();
        String out =
            NamespaceHttp.request(
                    ns, 0, pod.getStatus().getPodIP(), port, "GET " + probe.getHttpGet().getPath())
                .stdout();
        if (!out.matches("(?s)HTTP/1\\.[01] [23]\\d\\d .*")) {
          return false;
        }
      } else if (probe.getTcpSocket() != null) {
        int port = probe.getTcpSocket().getPort().getIntVal();
        if (ns.exec("bash", "-c", "exec 3<>/dev/tcp/" + pod.getStatus().getPodIP() + "/" + port)
                .exitCode()
            != 0) {
          return false;
        }
      }
    }
    return containers.values().stream().allMatch(Process::isAlive);
  }

  /**
   * Completes once every regular container has exited, with their exit codes by name; native
   * sidecars are then stopped, as the kubelet stops them after the main containers.
   */
  java.util.concurrent.CompletableFuture<Map<String, Integer>> completion() {
    Map<String, java.util.concurrent.CompletableFuture<Process>> regular = new LinkedHashMap<>();
    for (Container c : pod.getSpec().getContainers()) {
      regular.put(c.getName(), containers.get(c.getName()).onExit());
    }
    return java.util.concurrent.CompletableFuture.allOf(
            regular.values().toArray(java.util.concurrent.CompletableFuture[]::new))
        .thenApply(
            done -> {
              Map<String, Integer> exits = new LinkedHashMap<>();
              regular.forEach((name, p) -> exits.put(name, p.join().exitValue()));
              for (Container c : pod.getSpec().getInitContainers()) {
                Process sidecar = containers.get(c.getName());
                if (sidecar != null) {
                  sidecar.destroy();
                }
              }
              return exits;
            });
  }

  private List<Container> allContainers() {
    List<Container> all = new ArrayList<>(pod.getSpec().getContainers());
    pod.getSpec().getInitContainers().stream()
        .filter(c -> "Always".equals(c.getRestartPolicy()))
        .forEach(all::add);
    return all;
  }

  String name() {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  /** SIGTERM to every container, then SIGKILL after the grace period; the namespace goes. */
  @Override
  public void close() {
    long grace =
        pod.getSpec().getTerminationGracePeriodSeconds() == null
            ? 10
            : Math.min(30, pod.getSpec().getTerminationGracePeriodSeconds());
    containers.values().forEach(Process::destroy);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(grace);
    for (Process p : containers.values()) {
      try {
        p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    ns.close();
  }
}
