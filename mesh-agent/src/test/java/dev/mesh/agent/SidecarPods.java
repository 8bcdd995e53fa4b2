package dev.mesh.agent;

import dev.mesh.local.netns.ContainerIdentity;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.PodNetwork;
import dev.mesh.local.netns.ReadableCopy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Two pods on a node as a sidecar sees them: pod A (a client app) and pod B (an echo app on 8080,
 * service "b" at a cluster IP, port 80), each with mesh-init's rules and mesh-agent hosting
 * mesh-proxy in its JVM as the istio-proxy container's identity, configured by pilot (file mode,
 * over its Unix socket). The jars are the modules' own builds; the agent runs from this build's
 * classes.
 */
final class SidecarPods implements AutoCloseable {
  static final String A_IP = "10.44.7.1";
  static final String B_IP = "10.44.7.2";
  static final String CLUSTER_IP = "10.96.7.20";
  static final int APP_UID = 1000;

  final Path work;
  final Path socket;
  final PodNetwork net;
  final NetworkNamespace a;
  final NetworkNamespace b;
  private Process pilot;
  final Map<String, Process> agents = new TreeMap<>();

  SidecarPods(String name) throws Exception {
    Host.requireRootAndTools();
    work = Files.createTempDirectory(Path.of("/tmp"), "mesh-agent-" + name + "-");
    Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
    socket = work.resolve("pilot.sock");
    startPilot();
    net = PodNetwork.create(name);
    a = net.pod(name + "-a", A_IP);
    b = net.pod(name + "-b", B_IP);
    net.service(CLUSTER_IP, 80, B_IP, 8080);
    NamespaceHttp.startEcho(b, "0.0.0.0:8080", work.resolve("echo-b.log"));
    if (!NamespaceHttp.awaitAnswer(b, B_IP, 8080, "GET /up", "echo", 30)) {
      throw new IllegalStateException("the echo app in pod B did not start");
    }
  }

  static Path module(String module, String jar) {
    return dev.mesh.local.Build.jar(module, jar);
  }

  private void startPilot() throws Exception {
    Path config = Files.createDirectories(work.resolve("config"));
    Files.writeString(
        config.resolve("mesh.yaml"),
        """
        apiVersion: v1
        kind: Service
        metadata: {name: b, namespace: default}
        spec:
          clusterIP: %3$s
          selector: {app: b}
          ports: [{name: http, port: 80, targetPort: 8080}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: b-1, namespace: default, labels: {kubernetes.io/service-name: b}}
        addressType: IPv4
        ports: [{name: http, port: 8080}]
        endpoints: [{addresses: ["%2$s"]}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: a-1, namespace: default, labels: {app: a}}
        status: {podIP: "%1$s"}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: b-1, namespace: default, labels: {app: b}}
        status: {podIP: "%2$s"}
        """
            .formatted(A_IP, B_IP, CLUSTER_IP));
    pilot =
        new ProcessBuilder(
                NetworkNamespace.javaBinary(),
                "-jar",
                module("mesh-pilot", "mesh-pilot.jar").toString(),
                "--config-dir=" + config,
                "--xds-uds=" + socket,
                "--server.port=0",
                "--validation-port=0",
                "--spring.grpc.server.port=0")
            .redirectErrorStream(true)
            .redirectOutput(work.resolve("pilot.log").toFile())
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.exists(socket)) {
      if (System.nanoTime() > deadline || !pilot.isAlive()) {
        throw new IllegalStateException("pilot did not open its socket:\n" + log("pilot.log"));
      }
      Thread.sleep(100); // poll interval, bounded by the deadline
    }
  }

  /** mesh-init in a pod, as its init container runs it; its result. */
  Host.Result init(NetworkNamespace pod, String... flags) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                NetworkNamespace.javaBinary(),
                "-jar",
                module("mesh-init", "mesh-init.jar").toString()));
    cmd.addAll(List.of(flags));
    return pod.exec(cmd.toArray(String[]::new));
  }

  /**
   * Starts mesh-agent in a pod with the environment the injector would give it and the identity of
   * the istio-proxy container: uid and gid 1337 with no capabilities (REDIRECT), or uid 0 with gid
   * 1337 and CAP_NET_ADMIN alone (TPROXY), through setpriv as the local kubelet runs containers.
   */
  Process startAgent(NetworkNamespace pod, String podName, String ip, Map<String, String> extra)
      throws IOException {
    Path proxyDir = Files.createDirectories(work.resolve(podName + "-proxy"));
    // An emptyDir the container writes its bootstrap to, whoever it runs as.
    Files.setPosixFilePermissions(proxyDir, PosixFilePermissions.fromString("rwxrwxrwx"));
    Map<String, String> env = new TreeMap<>();
    env.put("POD_NAME", podName);
    env.put("POD_NAMESPACE", "default");
    env.put("INSTANCE_IP", ip);
    env.put("SERVICE_ACCOUNT", "default");
    env.put("PROXY_CONFIG", "{\"discoveryAddress\": \"unix://" + socket + "\"}");
    env.put("ISTIO_META_INTERCEPTION_MODE", "REDIRECT");
    env.put("TERMINATION_DRAIN_DURATION_SECONDS", "3");
    env.put("MESH_CONFIG_DIR", proxyDir.toString());
    env.putAll(extra);
    List<String> cmd = new ArrayList<>(List.of("env"));
    env.forEach((k, v) -> cmd.add(k + "=" + v));
    cmd.addAll(identity(env.get("ISTIO_META_INTERCEPTION_MODE")).setpriv());
    cmd.addAll(
        List.of(
            NetworkNamespace.javaBinary(),
            // The sidecar's heap and stacks; C1 only, since tests start several JVMs on two cores.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Xmx64m",
            "-Xss256k",
            "-cp",
            readableClassPath(),
            AgentApplication.class.getName(),
            "proxy",
            "sidecar"));
    Process p = pod.start(cmd, work.resolve(podName + "-agent.log"));
    agents.put(podName, p);
    return p;
  }

  /** The istio-proxy container's identity in an interception mode, as the injector sets it. */
  static ContainerIdentity identity(String mode) {
    return "TPROXY".equals(mode)
        ? new ContainerIdentity(0, 1337, List.of("NET_ADMIN"), List.of("ALL"))
        : new ContainerIdentity(1337, 1337, List.of(), List.of("ALL"));
  }

  private static String readableClassPath;

  /** This JVM's class path as world-readable copies (uid 1337 cannot read root's), made once. */
  static synchronized String readableClassPath() {
    if (readableClassPath == null) {
      readableClassPath = ReadableCopy.classPath();
    }
    return readableClassPath;
  }

  /** Starts both pods' agents and waits until both sidecars are ready. */
  void startBoth(Map<String, String> env) throws Exception {
    Process agentA = startAgent(a, "a-1", A_IP, env);
    Process agentB = startAgent(b, "b-1", B_IP, env);
    if (!awaitReady(a, agentA, 90) || !awaitReady(b, agentB, 90)) {
      throw new AssertionError(
          "sidecars not ready; A:\n" + log("a-1-agent.log") + "\nB:\n" + log("b-1-agent.log"));
    }
  }

  /** Waits until the pod's sidecar says ready on 15021; false at once if its agent died. */
  boolean awaitReady(NetworkNamespace pod, Process agent, int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline && agent.isAlive()) {
      if (ready(pod)) {
        return true;
      }
      Thread.sleep(100); // poll interval, bounded by the deadline
    }
    return false;
  }

  /** A line of /proc/<pid>/status: Uid or Gid (real, effective, saved, filesystem), CapEff. */
  static String procStatus(ProcessHandle p, String field) throws java.io.IOException {
    for (String line :
        java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/" + p.pid() + "/status"))) {
      if (line.startsWith(field + ":")) {
        return line.substring(field.length() + 1).strip();
      }
    }
    return "";
  }

  /** Whether 15021 answers 200 now. */
  static boolean ready(NetworkNamespace pod) {
    return NamespaceHttp.request(pod, 0, "127.0.0.1", 15021, "GET /healthz/ready")
        .stdout()
        .contains(" 200 ");
  }

  /** A request from the pod's app (uid 1000), to host:port with a Host header. */
  static Host.Result call(
      NetworkNamespace pod, String host, int port, String path, String hostHeader) {
    return NamespaceHttp.request(pod, APP_UID, host, port, "GET " + path, hostHeader);
  }

  /**
   * Connections A's virtualOutbound took: its own count and that of 0.0.0.0_80, the service port's
   * listener, which binds no socket and so receives only what virtualOutbound hands it (as in
   * Envoy, a handed-off connection is counted by the listener that serves it).
   */
  static long outbound(NetworkNamespace pod) {
    return accepted(pod, 15001) + accepted(pod, 80);
  }

  /** A listener's downstream_cx_total, from the pod's proxy admin; 0 when it has none yet. */
  static long accepted(NetworkNamespace pod, int port) {
    return dev.mesh.local.netns.SidecarStats.accepted(pod, port);
  }

  /** Where a log ends now (0 before it exists), for {@link #logSince}. */
  long logMark(String name) {
    try {
      return Files.size(work.resolve(name));
    } catch (IOException e) {
      return 0;
    }
  }

  /** What a log holds past a mark: what one test's process wrote to a log that tests share. */
  String logSince(String name, long mark) {
    String all = log(name);
    return Files.exists(work.resolve(name)) && all.length() >= mark
        ? all.substring((int) mark)
        : "";
  }

  String log(String name) {
    try {
      return Files.readString(work.resolve(name));
    } catch (IOException e) {
      return "(no " + name + ")";
    }
  }

  @Override
  public void close() {
    for (Process p : agents.values()) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
    net.close();
    if (pilot != null) {
      pilot.destroy();
      try {
        pilot.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      pilot.destroyForcibly();
    }
    try (Stream<Path> all = Files.walk(work)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // a temp directory; nothing else depends on it
    }
  }
}
