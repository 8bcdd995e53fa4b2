package dev.mesh.local.mesh;

import dev.mesh.local.cluster.ImageTable;
import dev.mesh.local.cluster.LocalCluster;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.ReadableCopy;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The mesh installed on a local cluster: pilot and the injector run on this machine (as their
 * jars), the MutatingWebhookConfiguration of install/mesh.yaml stored in the cluster's API, and the
 * image table mapping mesh/proxy to this build's init and agent jars (the agent holds the proxy)
 * and mesh/echo to a small app.
 */
public final class LocalMesh implements AutoCloseable {
  public static final String PROXY_IMAGE = "mesh/proxy:0.1.0";
  public static final String ECHO_IMAGE = "mesh/echo:1";
  public static final String SAMPLE_IMAGE = "mesh/sample:1";
  public static final String CURL_IMAGE = "curlimages/curl:8.11.1";
  public static final String PILOT_IMAGE = "mesh/pilot:0.1.0";
  public static final String INJECTOR_IMAGE = "mesh/injector:0.1.0";

  /**
   * The file in the cluster's state directory holding pilot's monitoring URL: pilot runs on this
   * machine, not in a pod, so meshctl proxy-status reads it there.
   */
  public static final String PILOT_URL = "pilot-monitoring.url";

  public final LocalCluster cluster;
  private final List<Process> processes = new ArrayList<>();
  public final Path socket;
  private final Path root;
  private int pilotMonitoring;
  private Process pilot;

  /** The mesh from this build's jars, {@code root} being the repository (its modules' target/). */
  public LocalMesh(String name, Path root) throws Exception {
    this(name, root, LocalCluster.Api.EMBEDDED);
  }

  /**
   * The mesh on the given API. On the embedded one pilot and the injector run on this machine
   * beside the cluster; on a real control plane the mesh is installed as users install it, {@code
   * kubectl apply -f install/mesh.yaml}, and pilot and the injector run as its pods.
   */
  public LocalMesh(String name, Path root, LocalCluster.Api api) throws Exception {
    this.root = root;
    Path images =
        Files.createTempDirectory(
            Path.of("/tmp"), "mesh-" + ProcessHandle.current().pid() + "-images-");
    Files.setPosixFilePermissions(images, PosixFilePermissions.fromString("rwxr-xr-x"));
    this.imagesDir = images;
    for (String[] jar :
        new String[][] {
          {"mesh-init", "mesh-init.jar"},
          {"mesh-agent", "mesh-agent.jar"},
          {"mesh-pilot", "mesh-pilot.jar"},
          {"mesh-injector", "mesh-injector.jar"}
        }) {
      Path target = images.resolve(jar[1]);
      Files.copy(built(jar[0], jar[1]), target, StandardCopyOption.REPLACE_EXISTING);
      Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rw-r--r--"));
    }
    String appClassPath =
        ReadableCopy.classPath(
            Path.of(
                    dev.mesh.local.apps.EchoServer.class
                        .getProtectionDomain()
                        .getCodeSource()
                        .getLocation()
                        .toURI())
                .toString());
    ImageTable table =
        new ImageTable()
            .add(
                PROXY_IMAGE,
                new ImageTable.Image(
                    Map.of("/usr/local/lib/mesh/", images + "/"),
                    List.of("java", "-jar", "/usr/local/lib/mesh/mesh-agent.jar"),
                    Map.of("MESH_CONFIG_DIR", "$(POD_DIR)/istio-envoy")))
            .add(ECHO_IMAGE, app(appClassPath, dev.mesh.local.apps.EchoServer.class))
            .add(SAMPLE_IMAGE, app(appClassPath, dev.mesh.local.apps.SampleApp.class))
            // This machine's curl, for what users run in Jobs and debug pods.
            .add(CURL_IMAGE, new ImageTable.Image(Map.of(), List.of("curl"), Map.of()))
            .add(PILOT_IMAGE, jarImage(images, "mesh-pilot.jar"))
            .add(INJECTOR_IMAGE, jarImage(images, "mesh-injector.jar"));
    cluster = LocalCluster.start(name, table, api);
    socket = cluster.state().resolve("pilot.sock");
    try {
      if (api == LocalCluster.Api.KUBERNETES) {
        install();
        return;
      }
      applyWebhookConfigurations();
      startPilot();
      startInjector();
    } catch (Exception | Error e) {
      close(); // a mesh that did not start leaves nothing running behind its caller
      throw e;
    }
  }

  /** An image holding one of this build's Boot jars, run as its entrypoint. */
  private static ImageTable.Image jarImage(Path images, String jar) {
    return new ImageTable.Image(
        Map.of("/usr/local/lib/mesh/", images + "/"),
        List.of("java", "-XX:TieredStopAtLevel=1", "-jar", "/usr/local/lib/mesh/" + jar),
        Map.of());
  }

  /** What {@code kubectl} runs here: the binary built from the pinned Kubernetes release. */
  public List<String> kubectl(String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                dev.mesh.local.kube.KubeBinaries.pinned().binary("kubectl").toString(),
                "--kubeconfig",
                cluster.kubeconfig().toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** Runs kubectl to its end; its output, or an error naming the command and what it printed. */
  public String runKubectl(String... args) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(kubectl(args)).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("kubectl " + String.join(" ", args) + " did not end");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(
          "kubectl " + String.join(" ", args) + " exited " + p.exitValue() + ":\n" + out);
    }
    return out;
  }

  /**
   * As a user installs the mesh: mesh.yaml applied with kubectl, then its Deployments' pods run by
   * the node's kubelet, ready, and each webhook's caBundle put in by its server.
   */
  private void install() throws Exception {
    runKubectl("apply", "-f", root.resolve("install").resolve("mesh.yaml").toString());
    for (String deployment : List.of("mesh-pilot", "mesh-injector")) {
      await(
          () -> {
            var d =
                cluster
                    .client()
                    .apps()
                    .deployments()
                    .inNamespace("mesh-system")
                    .withName(deployment)
                    .get();
            return d != null
                && d.getStatus() != null
                && d.getStatus().getAvailableReplicas() != null
                && d.getStatus().getAvailableReplicas() > 0;
          },
          180,
          () -> "Deployment mesh-system/" + deployment + " available; " + podLogs(deployment));
    }
    await(this::caBundlesSet, 60, () -> "the webhooks' caBundles; " + podLogs("mesh-injector"));
    forwardPilotMonitoring();
  }

  private boolean caBundlesSet() {
    var hooks = cluster.client().admissionRegistration().v1();
    var mutating = hooks.mutatingWebhookConfigurations().withName("mesh-sidecar-injector").get();
    var validating = hooks.validatingWebhookConfigurations().withName("mesh-validator").get();
    return mutating != null
        && validating != null
        && mutating.getWebhooks().stream().allMatch(h -> h.getClientConfig().getCaBundle() != null)
        && validating.getWebhooks().stream()
            .allMatch(h -> h.getClientConfig().getCaBundle() != null);
  }

  /** The logs of an app's pods in mesh-system, for a failure's message. */
  private String podLogs(String app) {
    StringBuilder out = new StringBuilder();
    for (var pod :
        cluster
            .client()
            .pods()
            .inNamespace("mesh-system")
            .withLabel("app", app)
            .list()
            .getItems()) {
      String podName = pod.getMetadata().getName();
      out.append("pod ")
          .append(podName)
          .append(" (")
          .append(pod.getStatus().getPhase())
          .append(", node ")
          .append(pod.getSpec().getNodeName())
          .append("; the kubelet: ")
          .append(cluster.nodeView("mesh-system", podName))
          .append(")");
      // Why a pod is Pending: unscheduled, or scheduled and not started; conditions and events say.
      for (var c : pod.getStatus().getConditions()) {
        out.append("\n  condition ")
            .append(c.getType())
            .append("=")
            .append(c.getStatus())
            .append(c.getReason() == null ? "" : " " + c.getReason())
            .append(c.getMessage() == null ? "" : ": " + c.getMessage());
      }
      try {
        for (var e :
            cluster
                .client()
                .v1()
                .events()
                .inNamespace("mesh-system")
                .withField("involvedObject.name", podName)
                .list()
                .getItems()) {
          out.append("\n  event ").append(e.getReason()).append(": ").append(e.getMessage());
        }
      } catch (RuntimeException e) {
        out.append("\n  (events: ").append(e.getMessage()).append(")");
      }
      for (var c : pod.getSpec().getContainers()) {
        String log;
        try {
          log = cluster.logOf("mesh-system", podName, c.getName());
        } catch (IllegalArgumentException notHereYet) {
          log = "(not started on the node yet)";
        }
        out.append(", its ").append(c.getName()).append(" log:\n").append(log);
      }
    }
    return out.length() == 0 ? "no pod of " + app + " yet" : out.toString() + kubeletThreads();
  }

  /**
   * Where the node's kubelet threads are, for a pod that stays Pending on it: a start blocked on an
   * API call or a volume shows here.
   */
  private static String kubeletThreads() {
    StringBuilder out = new StringBuilder();
    Thread.getAllStackTraces()
        .forEach(
            (t, stack) -> {
              if (t.getName().startsWith("kubelet")) {
                out.append("\n  thread ").append(t.getName()).append(" ").append(t.getState());
                for (int i = 0; i < Math.min(stack.length, 12); i++) {
                  out.append("\n    at ").append(stack[i]);
                }
              }
            });
    return out.toString();
  }

  private dev.mesh.local.cluster.PortRelay.Forward pilotForward;

  /**
   * Pilot's monitoring port (15014) forwarded to this machine, as {@code kubectl port-forward}
   * would: meshctl proxy-status reads its URL from the state directory.
   */
  private void forwardPilotMonitoring() throws IOException {
    if (pilotForward != null) {
      pilotForward.close();
    }
    var pod =
        cluster
            .client()
            .pods()
            .inNamespace("mesh-system")
            .withLabel("app", "mesh-pilot")
            .list()
            .getItems()
            .stream()
            .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("no pilot pod"));
    pilotForward =
        new dev.mesh.local.cluster.PortRelay.Forward(
            LocalCluster.relaySocket(cluster.state(), "mesh-system", pod.getMetadata().getName()),
            15014);
    pilotMonitoring = pilotForward.localPort();
    Files.writeString(cluster.state().resolve(PILOT_URL), pilotMonitoring().toString());
  }

  private final Path imagesDir;

  /** An image whose entrypoint runs one of mesh-local's small apps (they set TCP_NODELAY). */
  private static ImageTable.Image app(String classPath, Class<?> main) {
    return new ImageTable.Image(
        Map.of(),
        List.of("java", "-XX:TieredStopAtLevel=1", "-Xmx32m", "-cp", classPath, main.getName()),
        Map.of());
  }

  private Path built(String module, String jar) {
    Path p = root.resolve(module).resolve("target").resolve(jar).toAbsolutePath().normalize();
    if (!Files.isRegularFile(p)) {
      throw new IllegalStateException(p + " is missing: build first (./mvnw -DskipTests package)");
    }
    return p;
  }

  /** Pilot's monitoring address (/debug/syncz, /metrics), on this machine. */
  public URI pilotMonitoring() {
    return URI.create("http://127.0.0.1:" + pilotMonitoring);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  private Process java(String logName, List<String> args) throws IOException {
    List<String> cmd =
        new ArrayList<>(List.of(NetworkNamespace.javaBinary(), "-XX:TieredStopAtLevel=1"));
    cmd.addAll(cluster.apiSystemProperties());
    cmd.addAll(args);
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(cluster.state().resolve(logName).toFile()))
            .start();
    processes.add(p);
    // A sweep after this process was killed (SIGKILL included) ends what it started here.
    Files.writeString(
        cluster.state().resolve(dev.mesh.local.netns.Sweeper.PIDS),
        p.pid() + "\n",
        java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
    return p;
  }

  /**
   * install/mesh.yaml's webhook configurations, stored before the webhooks start: each puts its CA
   * into its own when it starts.
   */
  private void applyWebhookConfigurations() throws IOException {
    String mesh = Files.readString(root.resolve("install").resolve("mesh.yaml"));
    for (HasMetadata o :
        cluster.client().load(new java.io.ByteArrayInputStream(mesh.getBytes())).items()) {
      if (o instanceof MutatingWebhookConfiguration
          || o
              instanceof
              io.fabric8.kubernetes.api.model.admissionregistration.v1
                  .ValidatingWebhookConfiguration) {
        cluster.apply(o);
      }
    }
  }

  private int pilotValidation;
  private Path pilotTls;

  private void startPilot() throws Exception {
    if (pilotMonitoring == 0) {
      pilotMonitoring = freePort();
      // The injector holds 15017 in a cluster; here both are on this machine: another port.
      pilotValidation = freePort();
      // Its certificate as a mounted TLS secret would be: the same across restarts, so the
      // API server's trust in it (the caBundle) holds when pilot comes back.
      pilotTls = cluster.state().resolve("pilot-tls");
      dev.mesh.certs.WebhookCertificates.generate(
          pilotTls, dev.mesh.certs.WebhookCertificates.namesOf("mesh-pilot", "mesh-system"));
      cluster.hostService(
          "mesh-system", "mesh-pilot", URI.create("https://127.0.0.1:" + pilotValidation + "/"));
    }
    pilot =
        java(
            "pilot.log",
            List.of(
                "-jar",
                built("mesh-pilot", "mesh-pilot.jar").toString(),
                "--xds-uds=" + socket,
                "--server.port=" + pilotMonitoring,
                "--spring.grpc.server.port=0",
                "--validation-port=" + pilotValidation,
                "--validation-tls-dir=" + pilotTls));
    await(() -> Files.exists(socket), 90, "pilot's socket; its log:\n" + log("pilot.log"));
    await(
        () -> {
          var hooks =
              cluster
                  .client()
                  .admissionRegistration()
                  .v1()
                  .validatingWebhookConfigurations()
                  .withName("mesh-validator")
                  .get();
          return hooks != null
              && hooks.getWebhooks().stream()
                  .allMatch(
                      h ->
                          h.getClientConfig().getCaBundle() != null
                              && !h.getClientConfig().getCaBundle().isEmpty());
        },
        60,
        "pilot's CA in the ValidatingWebhookConfiguration; its log:\n" + log("pilot.log"));
    Files.writeString(cluster.state().resolve(PILOT_URL), pilotMonitoring().toString());
  }

  /**
   * Stops pilot as Kubernetes would stop its pod (SIGTERM, SIGKILL after 10 s) and starts it again
   * on the same socket, as its Deployment would; returns once the new one listens.
   */
  public synchronized void restartPilot() throws Exception {
    if (cluster.api() == LocalCluster.Api.KUBERNETES) {
      var old =
          cluster.client().pods().inNamespace("mesh-system").withLabel("app", "mesh-pilot").list();
      for (var p : old.getItems()) {
        cluster.deletePod("mesh-system", p.getMetadata().getName());
      }
      await(
          () ->
              cluster
                  .client()
                  .pods()
                  .inNamespace("mesh-system")
                  .withLabel("app", "mesh-pilot")
                  .list()
                  .getItems()
                  .stream()
                  .anyMatch(
                      p ->
                          p.getStatus().getConditions().stream()
                              .anyMatch(
                                  c ->
                                      c.getType().equals("Ready") && c.getStatus().equals("True"))),
          120,
          () -> "a new pilot pod ready; " + podLogs("mesh-pilot"));
      forwardPilotMonitoring();
      return;
    }
    pilot.destroy();
    if (!pilot.waitFor(10, TimeUnit.SECONDS)) {
      pilot.destroyForcibly().waitFor();
    }
    processes.remove(pilot);
    Files.deleteIfExists(socket);
    startPilot();
  }

  private void startInjector() throws Exception {
    Path meshConfig = cluster.state().resolve("mesh-config.yaml");
    Files.writeString(
        meshConfig, "defaultConfig:\n  discoveryAddress: \"unix://" + socket + "\"\n");
    int port = freePort();
    java(
        "injector.log",
        List.of(
            "-jar",
            built("mesh-injector", "mesh-injector.jar").toString(),
            "--server.port=" + port,
            "--mesh-config=" + meshConfig));
    cluster.hostService(
        "mesh-system", "mesh-injector", URI.create("https://127.0.0.1:" + port + "/"));
    await(
        () -> {
          var hooks =
              cluster
                  .client()
                  .admissionRegistration()
                  .v1()
                  .mutatingWebhookConfigurations()
                  .withName("mesh-sidecar-injector")
                  .get()
                  .getWebhooks();
          return hooks.get(0).getClientConfig().getCaBundle() != null;
        },
        90,
        "the injector's caBundle; its log:\n" + log("injector.log"));
  }

  /** Pilot's log: its pod's on a real control plane, else its process's. */
  public String pilotLog() {
    return cluster.api() == LocalCluster.Api.KUBERNETES ? podLogs("mesh-pilot") : log("pilot.log");
  }

  public String log(String name) {
    try {
      return Files.readString(cluster.state().resolve(name));
    } catch (IOException e) {
      return "(no " + name + ")";
    }
  }

  public interface Check {
    boolean holds() throws Exception;
  }

  public static void await(Check check, int seconds, String what) throws Exception {
    await(check, seconds, () -> what);
  }

  /** As {@link #await(Check, int, String)}, the message made only on a timeout. */
  public static void await(Check check, int seconds, java.util.function.Supplier<String> what)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (check.holds()) {
        return;
      }
      Thread.sleep(200); // poll interval, bounded by the deadline
    }
    throw new AssertionError("waited " + seconds + " s for " + what.get());
  }

  private boolean closed;

  /** Stops pilot, the injector and every pod, and removes the cluster; once, from any thread. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (pilotForward != null) {
      pilotForward.close();
    }
    for (Process p : processes) {
      p.destroy();
    }
    for (Process p : processes) {
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    cluster.close();
    try (var files = Files.list(imagesDir)) {
      files.forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // best effort
    }
    imagesDir.toFile().delete();
  }
}
