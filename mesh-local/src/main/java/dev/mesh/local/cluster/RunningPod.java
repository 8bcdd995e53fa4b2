package dev.mesh.local.cluster;

import dev.mesh.local.cluster.volume.PodVolumes;
import dev.mesh.local.cluster.volume.VolumeSources;
import dev.mesh.local.netns.ContainerIdentity;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LifecycleHandler;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A pod's spec run as written, as the kubelet would: in its own network namespace, the init
 * containers one after the other (each must exit 0), then the containers as processes with their
 * environment (downward API resolved), user, group and capabilities; postStart hooks before the
 * next container. Then the kubelet's loop: startup, liveness and readiness probes (httpGet,
 * tcpSocket, exec) with their periods and thresholds; containers that exit or fail their liveness
 * or startup probe are restarted as the pod's restartPolicy says, with a doubling back-off; on
 * deletion each container's preStop hook runs before its SIGTERM.
 */
final class RunningPod implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(RunningPod.class.getName());
  private static final long TICK_MS = 200;
  private static final long FIRST_BACKOFF_MS = 1000;
  private static final long MAX_BACKOFF_MS = 30_000;

  final Pod pod;
  final NetworkNamespace ns;
  final Path dir;
  private final ImageTable images;

  /** The long-running containers (native sidecars, then containers) by name, in start order. */
  private final Map<String, Running> containers = new LinkedHashMap<>();

  private final CompletableFuture<Map<String, Integer>> completion = new CompletableFuture<>();
  private final ScheduledExecutorService kubelet;
  private volatile boolean stopping;
  private volatile Runnable onStatusChange = () -> {};
  private PortRelay relay;

  /** Init containers that ran to completion, by name, with their exit codes, in order. */
  private final Map<String, Integer> initExits = new LinkedHashMap<>();

  /** Environment every container gets from the node (the kubernetes Service's address). */
  private final Map<String, String> nodeEnv;

  private volatile long graceSeconds = -1;

  /** Where configMap, secret and token volumes come from (the API the pod is in). */
  private final VolumeSources volumeSources;

  private PodVolumes volumes;

  /** One container's process and what the kubelet keeps about it. */
  private static final class Running {
    final Container spec;
    final boolean sidecar;
    // Read by readiness checks and status reports on other threads than the kubelet's loop.
    volatile Process process;
    long startedAt;
    volatile int restarts;
    long backoffMs = FIRST_BACKOFF_MS;
    long restartAt;
    volatile boolean started;
    int startupFailures;
    int livenessFailures;
    long nextStartupProbe;
    long nextLivenessProbe;
    volatile Integer exitCode;
    volatile boolean done;
    volatile boolean ready;
    long nextReadinessProbe;
    int readinessFailures;

    Running(Container spec, boolean sidecar) {
      this.spec = spec;
      this.sidecar = sidecar;
    }
  }

  RunningPod(Pod pod, NetworkNamespace ns, Path dir, ImageTable images) {
    this(pod, ns, dir, images, Map.of());
  }

  RunningPod(
      Pod pod, NetworkNamespace ns, Path dir, ImageTable images, Map<String, String> nodeEnv) {
    this(pod, ns, dir, images, nodeEnv, VolumeSources.none());
  }

  RunningPod(
      Pod pod,
      NetworkNamespace ns,
      Path dir,
      ImageTable images,
      Map<String, String> nodeEnv,
      VolumeSources volumeSources) {
    this.volumeSources = volumeSources;
    this.nodeEnv = nodeEnv;
    this.pod = pod;
    this.ns = ns;
    this.dir = dir;
    this.images = images;
    this.kubelet =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "kubelet-" + pod.getMetadata().getName());
              t.setDaemon(true);
              return t;
            });
  }

  void start() throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    volumes = PodVolumes.setUp(pod, dir, volumeSources);
    relay = PortRelay.serve(dir, ns);
    var spec = pod.getSpec();
    for (Container c : spec.getInitContainers()) {
      boolean sidecar = "Always".equals(c.getRestartPolicy());
      if (sidecar) {
        startContainer(new Running(c, true));
        continue;
      }
      Host.Result r = ns.exec(command(c).toArray(String[]::new));
      Files.writeString(dir.resolve(c.getName() + ".log"), r.stdout() + r.stderr());
      synchronized (this) {
        initExits.put(c.getName(), r.exitCode());
      }
      if (r.exitCode() != 0) {
        throw new InitContainerFailed(
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
      startContainer(new Running(c, false));
    }
    kubelet.scheduleWithFixedDelay(this::tick, TICK_MS, TICK_MS, TimeUnit.MILLISECONDS);
  }

  /** Called after a container restarts or ends, for the pod's status in the API. */
  void onStatusChange(Runnable r) {
    this.onStatusChange = r;
  }

  private void startContainer(Running r) throws InterruptedException {
    Container c = r.spec;
    synchronized (this) {
      r.process = ns.start(command(c), dir.resolve(c.getName() + ".log"));
      r.startedAt = System.nanoTime();
      r.started = c.getStartupProbe() == null;
      r.startupFailures = 0;
      r.livenessFailures = 0;
      r.ready = false;
      r.nextReadinessProbe = r.startedAt + delay(c.getReadinessProbe());
      r.nextStartupProbe = r.startedAt + delay(c.getStartupProbe());
      r.nextLivenessProbe = r.startedAt + delay(c.getLivenessProbe());
      containers.put(c.getName(), r);
    }
    LifecycleHandler postStart = c.getLifecycle() == null ? null : c.getLifecycle().getPostStart();
    if (postStart != null && postStart.getExec() != null) {
      Host.Result result = runHook(c, postStart);
      if (result.exitCode() != 0) {
        throw new IllegalStateException(
            "pod "
                + name()
                + ": postStart of "
                + c.getName()
                + " failed: "
                + result.stderr().strip());
      }
    }
  }

  private static long delay(Probe p) {
    return p == null || p.getInitialDelaySeconds() == null
        ? 0
        : TimeUnit.SECONDS.toNanos(p.getInitialDelaySeconds());
  }

  private static long period(Probe p) {
    return TimeUnit.SECONDS.toNanos(
        p.getPeriodSeconds() == null ? 10 : Math.max(1, p.getPeriodSeconds()));
  }

  private static int threshold(Probe p) {
    return p.getFailureThreshold() == null ? 3 : Math.max(1, p.getFailureThreshold());
  }

  /** The restartPolicy that applies to a container: Always for native sidecars. */
  private String policy(Running r) {
    if (r.sidecar) {
      return "Always";
    }
    String p = pod.getSpec().getRestartPolicy();
    return p == null ? "Always" : p;
  }

  /** One pass of the kubelet's loop over the pod's containers. */
  private void tick() {
    if (stopping) {
      return;
    }
    try {
      boolean changed = false;
      for (Running r : List.copyOf(containers.values())) {
        if (r.done || stopping) {
          continue;
        }
        changed |= r.process.isAlive() ? probe(r) : exited(r);
      }
      if (changed) {
        onStatusChange.run();
      }
      finishIfDone();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.warning("pod " + name() + ": kubelet loop: " + e);
    }
  }

  /** A container that has exited: restarted after its back-off, or done, as the policy says. */
  private boolean exited(Running r) throws InterruptedException {
    int code = r.process.exitValue();
    r.ready = false;
    String policy = policy(r);
    boolean restart = policy.equals("Always") || (policy.equals("OnFailure") && code != 0);
    if (!restart) {
      r.done = true;
      r.exitCode = code;
      LOG.info("pod " + name() + ": container " + r.spec.getName() + " exited " + code);
      return true;
    }
    long now = System.nanoTime();
    if (r.restartAt == 0) {
      r.restartAt = now + TimeUnit.MILLISECONDS.toNanos(r.backoffMs);
      LOG.info(
          "pod "
              + name()
              + ": container "
              + r.spec.getName()
              + " exited "
              + code
              + ", restarting in "
              + r.backoffMs
              + " ms");
      return false;
    }
    if (now < r.restartAt) {
      return false;
    }
    r.restartAt = 0;
    r.backoffMs = Math.min(MAX_BACKOFF_MS, r.backoffMs * 2);
    r.restarts++;
    startContainer(r);
    LOG.info(
        "pod " + name() + ": container " + r.spec.getName() + " restarted (" + r.restarts + ")");
    return true;
  }

  /** Startup, then liveness probes of a running container; a failed one kills it. */
  private boolean probe(Running r) {
    long now = System.nanoTime();
    Container c = r.spec;
    if (!r.started) {
      Probe p = c.getStartupProbe();
      if (now < r.nextStartupProbe) {
        return false;
      }
      r.nextStartupProbe = now + period(p);
      if (passes(c, p)) {
        r.started = true;
        r.nextLivenessProbe = Math.max(r.nextLivenessProbe, now);
        // The first readiness probe follows the startup probe's success at once.
        r.nextReadinessProbe = Math.max(r.nextReadinessProbe, now);
        return readiness(r, now);
      }
      if (++r.startupFailures >= threshold(p)) {
        kill(r, "startup probe failed " + r.startupFailures + " times");
      }
      return false;
    }
    Probe p = c.getLivenessProbe();
    if (p != null && now >= r.nextLivenessProbe) {
      r.nextLivenessProbe = now + period(p);
      if (passes(c, p)) {
        r.livenessFailures = 0;
      } else if (++r.livenessFailures >= threshold(p)) {
        kill(r, "liveness probe failed " + r.livenessFailures + " times");
        boolean was = r.ready;
        r.ready = false;
        return was;
      }
    }
    return readiness(r, now);
  }

  /**
   * A started container's readiness: its readiness probe at the probe's period (thresholds of
   * consecutive successes and failures), ready at once without one; true when it changed.
   */
  private boolean readiness(Running r, long now) {
    Probe p = r.spec.getReadinessProbe();
    boolean was = r.ready;
    if (p == null) {
      r.ready = true;
    } else if (now >= r.nextReadinessProbe) {
      r.nextReadinessProbe = now + period(p);
      if (passes(r.spec, p)) {
        r.ready = true;
        r.readinessFailures = 0;
      } else if (++r.readinessFailures >= threshold(p)) {
        r.ready = false;
      }
    }
    return was != r.ready;
  }

  /** Stops a container the kubelet gave up on: SIGTERM, SIGKILL after its grace period. */
  private void kill(Running r, String why) {
    LOG.info("pod " + name() + ": container " + r.spec.getName() + ": " + why + ", killing it");
    stop(r);
  }

  /** SIGTERM, then SIGKILL after the grace period; false if interrupted while waiting. */
  private boolean stop(Running r) {
    r.process.destroy();
    try {
      if (!r.process.waitFor(grace(), TimeUnit.SECONDS)) {
        r.process.destroyForcibly().waitFor();
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Once every regular container is done: native sidecars stopped, the exit codes reported. */
  private void finishIfDone() {
    if (completion.isDone()) {
      return;
    }
    Map<String, Integer> exits = new LinkedHashMap<>();
    for (Running r : containers.values()) {
      if (r.sidecar) {
        continue;
      }
      if (!r.done) {
        return;
      }
      exits.put(r.spec.getName(), r.exitCode);
    }
    for (Running r : containers.values()) {
      if (r.sidecar && !r.done) {
        if (!stop(r)) {
          return;
        }
        r.exitCode = r.process.exitValue();
        r.done = true;
      }
    }
    completion.complete(exits);
    onStatusChange.run();
  }

  /**
   * Completes once every regular container has exited for good (restartPolicy Never, or OnFailure
   * with exit 0), with their exit codes by name; native sidecars are then stopped, as the kubelet
   * stops them after the main containers.
   */
  CompletableFuture<Map<String, Integer>> completion() {
    return completion;
  }

  /** A running container's process (its first process; what it started are its descendants). */
  synchronized java.util.Optional<ProcessHandle> process(String container) {
    Running r = containers.get(container);
    return r == null || r.process == null || !r.process.isAlive()
        ? java.util.Optional.empty()
        : java.util.Optional.of(r.process.toHandle());
  }

  /** The regular containers' statuses as the kubelet reports them. */
  synchronized List<ContainerStatus> statuses() {
    return statuses(false);
  }

  /**
   * The init containers' statuses: those that ran to completion, then the native sidecars, in spec
   * order.
   */
  synchronized List<ContainerStatus> initStatuses() {
    List<ContainerStatus> out = new ArrayList<>();
    initExits.forEach(
        (name, code) ->
            out.add(
                new ContainerStatusBuilder()
                    .withName(name)
                    .withImage(imageOf(name))
                    .withImageID(imageOf(name))
                    .withReady(code == 0)
                    .withStarted(false)
                    .withRestartCount(0)
                    .withNewState()
                    .withNewTerminated()
                    .withExitCode(code)
                    .withReason(code == 0 ? "Completed" : "Error")
                    .endTerminated()
                    .endState()
                    .build()));
    out.addAll(statuses(true));
    return out;
  }

  private String imageOf(String container) {
    return pod.getSpec().getInitContainers().stream()
        .filter(c -> c.getName().equals(container))
        .map(Container::getImage)
        .findFirst()
        .orElse("");
  }

  private List<ContainerStatus> statuses(boolean sidecars) {
    List<ContainerStatus> out = new ArrayList<>();
    for (Running r : containers.values()) {
      if (r.sidecar != sidecars) {
        continue;
      }
      boolean alive = r.process.isAlive();
      ContainerStatusBuilder b =
          new ContainerStatusBuilder()
              .withName(r.spec.getName())
              .withImage(r.spec.getImage())
              .withImageID(r.spec.getImage())
              .withContainerID("mesh-local://" + r.process.pid())
              .withRestartCount(r.restarts)
              .withStarted(alive && r.started)
              .withReady(alive && r.started && r.ready && !r.done);
      if (r.done) {
        b.withNewState()
            .withNewTerminated()
            .withExitCode(r.exitCode == null ? 137 : r.exitCode)
            .withReason(r.exitCode != null && r.exitCode == 0 ? "Completed" : "Error")
            .endTerminated()
            .endState();
      } else if (!alive) {
        b.withNewState()
            .withNewWaiting()
            .withReason(r.restarts > 0 ? "CrashLoopBackOff" : "ContainerCreating")
            .endWaiting()
            .endState();
      } else {
        b.withNewState()
            .withNewRunning()
            .withStartedAt(
                java.time.Instant.now()
                    .minusNanos(System.nanoTime() - r.startedAt)
                    .truncatedTo(java.time.temporal.ChronoUnit.SECONDS)
                    .toString())
            .endRunning()
            .endState();
      }
      out.add(b.build());
    }
    return out;
  }

  /** Whether every regular container has exited for good (the pod's phase is then final). */
  boolean finished() {
    return completion.isDone();
  }

  /**
   * The container's volumes mounted (in the mount namespace of its own), env -i with its
   * environment, then the user switch, then its command line.
   */
  private List<String> command(Container c) {
    List<String> cmd = new ArrayList<>(runAs(c));
    cmd.addAll(images.commandLine(c.getImage(), c.getCommand(), c.getArgs()));
    return inContainer(c, cmd);
  }

  /** A command line as the container's processes run: its mounts, its environment. */
  private List<String> inContainer(Container c, List<String> cmd) {
    List<String> env = envPrefix(c, cmd);
    return volumes == null ? env : volumes.wrap(c, env);
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
    nodeEnv.forEach((k, v) -> cmd.add(k + "=" + v));
    for (EnvVar e : c.getEnv()) {
      cmd.add(e.getName() + "=" + value(e));
    }
    cmd.addAll(rest);
    return cmd;
  }

  private List<String> runAs(Container c) {
    var sc = c.getSecurityContext();
    var podSc = pod.getSpec().getSecurityContext();
    Long runAsUser = sc == null ? null : sc.getRunAsUser();
    Long runAsGroup = sc == null ? null : sc.getRunAsGroup();
    if (runAsUser == null && podSc != null) {
      runAsUser = podSc.getRunAsUser();
    }
    if (runAsGroup == null && podSc != null) {
      runAsGroup = podSc.getRunAsGroup();
    }
    long uid = runAsUser == null ? 0 : runAsUser;
    long gid = runAsGroup == null ? uid : runAsGroup;
    Capabilities caps = sc == null ? null : sc.getCapabilities();
    List<String> setpriv =
        new ArrayList<>(
            new ContainerIdentity(
                    uid,
                    gid,
                    caps == null || caps.getAdd() == null ? List.of() : caps.getAdd(),
                    caps == null || caps.getDrop() == null ? List.of() : caps.getDrop())
                .setpriv());
    // fsGroup and supplementalGroups, as the runtime gives them: the process reads its volumes.
    List<Long> groups = PodVolumes.groups(pod);
    int clear = setpriv.indexOf("--clear-groups");
    if (clear >= 0 && !groups.isEmpty()) {
      setpriv.set(
          clear, "--groups=" + String.join(",", groups.stream().map(String::valueOf).toList()));
    }
    return setpriv;
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
        case "spec.nodeName" ->
            pod.getSpec().getNodeName() == null ? "local" : pod.getSpec().getNodeName();
        case "metadata.uid" -> pod.getMetadata().getUid() == null ? "" : pod.getMetadata().getUid();
        case "status.hostIPs" -> pod.getStatus().getHostIP();
        case "status.podIPs" -> pod.getStatus().getPodIP();
        default -> "";
      };
    }
    if (e.getValueFrom().getResourceFieldRef() != null) {
      return "2";
    }
    return "";
  }

  /**
   * Ready when every container runs, has passed its startup probe and its readiness probe's last
   * verdict is ready (the kubelet's loop probes at each probe's period).
   */
  boolean ready() {
    List<Running> all;
    synchronized (this) {
      all = List.copyOf(containers.values());
    }
    for (Running r : all) {
      if (!r.process.isAlive() || !r.started || !r.ready) {
        return false;
      }
    }
    return !all.isEmpty();
  }

  /** One probe of a container: httpGet (2xx or 3xx), tcpSocket (connects) or exec (exits 0). */
  private boolean passes(Container c, Probe probe) {
    int seconds = probe.getTimeoutSeconds() == null ? 1 : Math.max(1, probe.getTimeoutSeconds());
    if (probe.getHttpGet() != null) {
      return get(c, probe.getHttpGet(), seconds)
          .stdout()
          .matches("(?s)HTTP/1\\.[01] [23]\\d\\d .*");
    }
    if (probe.getTcpSocket() != null) {
      String host =
          probe.getTcpSocket().getHost() == null
              ? pod.getStatus().getPodIP()
              : probe.getTcpSocket().getHost();
      return ns.exec(
                  "timeout",
                  Integer.toString(seconds),
                  "bash",
                  "-c",
                  "exec 3<>/dev/tcp/" + host + "/" + port(c, probe.getTcpSocket().getPort()))
              .exitCode()
          == 0;
    }
    if (probe.getExec() != null) {
      List<String> cmd = new ArrayList<>(List.of("timeout", Integer.toString(seconds)));
      cmd.addAll(runAs(c));
      cmd.addAll(images.commandLine(c.getImage(), probe.getExec().getCommand(), null));
      return ns.exec(inContainer(c, cmd).toArray(String[]::new)).exitCode() == 0;
    }
    return true; // a probe of a kind not run here (grpc) counts as passing
  }

  /** An httpGet action from inside the pod (the pod's IP unless it names a host), in time. */
  private Host.Result get(
      Container c, io.fabric8.kubernetes.api.model.HTTPGetAction get, long seconds) {
    String host = get.getHost() == null ? pod.getStatus().getPodIP() : get.getHost();
    String path = get.getPath() == null ? "/" : get.getPath();
    return ns.exec(
        "timeout",
        Long.toString(seconds),
        "bash",
        "-c",
        NamespaceHttp.script(host, port(c, get.getPort()), "GET " + path, host));
  }

  /** A probe's port: a number, or the name of one of the container's ports. */
  private static int port(Container c, IntOrString port) {
    if (port.getIntVal() != null) {
      return port.getIntVal();
    }
    return c.getPorts().stream()
        .filter(p -> port.getStrVal().equals(p.getName()))
        .findFirst()
        .orElseThrow(
            () ->
                new IllegalStateException(
                    "container " + c.getName() + " has no port named " + port.getStrVal()))
        .getContainerPort();
  }

  /** A lifecycle hook, exec in the container's environment or an httpGet from inside the pod. */
  private Host.Result runHook(Container c, LifecycleHandler hook) {
    if (hook.getExec() != null) {
      List<String> cmd = new ArrayList<>(runAs(c));
      cmd.addAll(images.commandLine(c.getImage(), hook.getExec().getCommand(), null));
      return ns.exec(inContainer(c, cmd).toArray(String[]::new));
    }
    if (hook.getHttpGet() != null) {
      return get(c, hook.getHttpGet(), grace());
    }
    if (hook.getSleep() != null && hook.getSleep().getSeconds() != null) {
      return ns.exec("sleep", Long.toString(hook.getSleep().getSeconds()));
    }
    return new Host.Result(0, "", "");
  }

  String name() {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  /**
   * {@code kubectl exec}: a command in a container's environment, as its user, in the pod's network
   * namespace, its stdin, stdout and stderr piped to the caller.
   */
  Process exec(String container, List<String> command) throws IOException {
    Container c =
        java.util.stream.Stream.concat(
                pod.getSpec().getContainers().stream(), pod.getSpec().getInitContainers().stream())
            .filter(k -> k.getName().equals(container))
            .findFirst()
            .orElseThrow(
                () -> new IOException("container " + container + " is not in pod " + name()));
    List<String> cmd = new ArrayList<>(runAs(c));
    cmd.addAll(images.commandLine(c.getImage(), command, null));
    return new ProcessBuilder(ns.wrap(inContainer(c, cmd))).start();
  }

  /** The grace period a deletion asked for (metadata.deletionGracePeriodSeconds). */
  void graceSeconds(long seconds) {
    this.graceSeconds = seconds;
  }

  private long grace() {
    if (graceSeconds >= 0) {
      return Math.min(30, graceSeconds);
    }
    return pod.getSpec().getTerminationGracePeriodSeconds() == null
        ? 10
        : Math.min(30, pod.getSpec().getTerminationGracePeriodSeconds());
  }

  /**
   * As the kubelet deletes a pod: each running container's preStop hook, then its SIGTERM, then
   * SIGKILL for what still runs when the grace period ends; the namespace goes.
   */
  @Override
  public void close() {
    stopping = true;
    kubelet.shutdown();
    try {
      kubelet.awaitTermination(grace(), TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(grace());
    List<Running> all;
    synchronized (this) {
      all = List.copyOf(containers.values());
    }
    List<CompletableFuture<Void>> stopped = new ArrayList<>();
    for (Running r : all) {
      LifecycleHandler preStop =
          r.spec.getLifecycle() == null ? null : r.spec.getLifecycle().getPreStop();
      stopped.add(
          CompletableFuture.runAsync(
              () -> {
                if (preStop != null && r.process.isAlive()) {
                  Host.Result result = runHook(r.spec, preStop);
                  if (result.exitCode() != 0) {
                    LOG.info(
                        "pod "
                            + name()
                            + ": preStop of "
                            + r.spec.getName()
                            + " exited "
                            + result.exitCode());
                  }
                }
                r.process.destroy();
              }));
    }
    for (CompletableFuture<Void> f : stopped) {
      try {
        f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        // the grace period is over: what still runs is killed with the namespace
      }
    }
    for (Running r : all) {
      try {
        r.process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (relay != null) {
      relay.close();
    }
    ns.close();
    if (volumes != null) {
      volumes.close(); // after every process: their mount points may go
    }
  }

  /** An init container exited non-zero: the pod does not start (its restartPolicy decides). */
  static final class InitContainerFailed extends IllegalStateException {
    InitContainerFailed(String message) {
      super(message);
    }
  }
}
