package dev.mesh.agent;

import static dev.mesh.agent.SidecarPods.B_IP;
import static dev.mesh.agent.SidecarPods.accepted;
import static dev.mesh.agent.SidecarPods.call;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The sidecar's life in pod B (captured with mesh-init's rules), called by pod A's app: one
 * process, the istio-proxy container's identity, hosting the proxy; a proxy that fails to start is
 * started again; it drains on SIGTERM, ends at once on /quitquitquit (the agent's or the proxy's),
 * runs the app's probes, merges metrics, and says clearly what it lacks.
 */
class SidecarLifecycleTest {
  static SidecarPods pods;
  Process agent;

  @BeforeAll
  static void pods() throws Exception {
    pods = new SidecarPods("life");
    pods.init(pods.b, "-m", "REDIRECT").orThrow("mesh-init in B");
  }

  @AfterAll
  static void close() {
    if (pods != null) {
      pods.close();
    }
  }

  @AfterEach
  void stopAgent() throws InterruptedException {
    if (agent != null && agent.isAlive()) {
      agent.descendants().forEach(ProcessHandle::destroyForcibly);
      agent.destroyForcibly();
      agent.waitFor(10, TimeUnit.SECONDS);
    }
  }

  Process startB(Map<String, String> env) throws Exception {
    agent = pods.startAgent(pods.b, "b-1", B_IP, env);
    assertThat(pods.awaitReady(pods.b, agent, 90))
        .as("B ready; its log:\n%s", pods.log("b-1-agent.log"))
        .isTrue();
    return agent;
  }

  /** How many of a process's threads have a name starting so (the kernel keeps 15 characters). */
  static long threads(ProcessHandle p, String prefix) throws java.io.IOException {
    try (var tasks =
        java.nio.file.Files.list(java.nio.file.Path.of("/proc/" + p.pid() + "/task"))) {
      return tasks
          .filter(
              t -> {
                try {
                  return java.nio.file.Files.readString(t.resolve("comm")).startsWith(prefix);
                } catch (java.io.IOException e) {
                  return false; // the thread ended meanwhile
                }
              })
          .count();
    }
  }

  static boolean eventually(BooleanSupplier condition, int seconds) {
    return dev.mesh.local.Build.eventually(condition, java.time.Duration.ofSeconds(seconds));
  }

  @Test
  void theSidecarIsOneProcessWithTheContainersIdentity() throws Exception {
    startB(Map.of());
    ProcessHandle sidecar = agent.toHandle();
    assertThat(SidecarPods.procStatus(sidecar, "Uid")).isEqualTo("1337\t1337\t1337\t1337");
    assertThat(SidecarPods.procStatus(sidecar, "Gid")).isEqualTo("1337\t1337\t1337\t1337");
    assertThat(SidecarPods.procStatus(sidecar, "CapEff")).isEqualTo("0000000000000000");
    assertThat(sidecar.descendants()).as("no process besides the agent's").isEmpty();
    // The proxy answers from the same process: its admin and its stats port.
    assertThat(NamespaceHttp.request(pods.b, 0, "127.0.0.1", 15000, "GET /ready").stdout())
        .contains(" 200 ")
        .contains("LIVE");
    assertThat(call(pods.a, B_IP, 8080, "/through", "b").stdout()).contains("/through");
  }

  @Test
  void aProxyThatCannotBindIsStartedAgainOnceThePortIsFreeAndReadinessFollowsIt() throws Exception {
    // Something else in the pod holds 15090, which the proxy binds as it starts.
    Process squatter =
        NamespaceHttp.startEcho(pods.b, "0.0.0.0:15090", pods.work.resolve("squatter.log"));
    try {
      assertThat(NamespaceHttp.awaitAnswer(pods.b, B_IP, 15090, "GET /up", "echo", 30)).isTrue();
      long logStart = pods.logMark("b-1-agent.log");
      agent = pods.startAgent(pods.b, "b-1", B_IP, Map.of());
      assertThat(
              eventually(
                  () -> pods.logSince("b-1-agent.log", logStart).contains("failed to start"), 60))
          .as("the failure logged; log:\n%s", pods.log("b-1-agent.log"))
          .isTrue();
      assertThat(eventually(() -> status("GET /healthz/ready").contains(" 503 "), 30)).isTrue();
      assertThat(
              NamespaceHttp.request(pods.b, 0, "127.0.0.1", 15021, "GET /healthz/ready").stdout())
          .contains(" 503 ");
      // One line says what failed and what happens next; no stack trace.
      String log = pods.logSince("b-1-agent.log", logStart);
      assertThat(log.lines().filter(l -> l.contains("proxy failed to start")).findFirst().get())
          .contains("listener prometheus_stats")
          .contains("15090")
          .contains("Address already in use")
          .contains("starting it again in 1000 ms");
      assertThat(log).doesNotContain("\tat ").doesNotContain("Exception:");
    } finally {
      squatter.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(eventually(() -> SidecarPods.ready(pods.b), 90))
        .as("ready once the port is free; log:\n%s", pods.log("b-1-agent.log"))
        .isTrue();
    assertThat(metrics()).containsPattern("istio_agent_proxy_restarts_total [1-9]");
    assertThat(metrics()).contains("istio_agent_proxy_up 1");
    assertThat(call(pods.a, B_IP, 8080, "/after-restart", "b").stdout()).contains("/after-restart");
    // The failed servers left nothing behind: one server's threads, no more.
    ProcessHandle sidecar = agent.toHandle();
    assertThat(threads(sidecar, "mesh-proxy-back")).isEqualTo(1);
    assertThat(threads(sidecar, "mesh-proxy-xds")).isEqualTo(1);
    assertThat(threads(sidecar, "multiThreadIoEv")).isLessThanOrEqualTo(2); // concurrency 2
  }

  @Test
  void onSigtermInFlightRequestsCompleteThenThePodTakesNoMoreConnections() throws Exception {
    startB(Map.of());
    NetworkNamespace hub = pods.net.hub();
    assertThat(NamespaceHttp.request(hub, 0, B_IP, 8080, "GET /before").stdout())
        .contains("/before");
    long acceptedBefore = accepted(pods.b, 15006);
    List<CompletableFuture<Host.Result>> inFlight = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      String path = "/slow-" + i + "?delay=1500";
      inFlight.add(CompletableFuture.supplyAsync(() -> call(pods.a, B_IP, 8080, path, "b")));
    }
    assertThat(eventually(() -> accepted(pods.b, 15006) >= acceptedBefore + 4, 10))
        .as("the four requests reached B's proxy")
        .isTrue();
    long signalled = System.nanoTime();
    agent.destroy(); // SIGTERM
    for (int i = 0; i < 4; i++) {
      assertThat(inFlight.get(i).get(20, TimeUnit.SECONDS).stdout())
          .as("in-flight request %d", i)
          .contains("echo 0.0.0.0:8080 /slow-" + i);
    }
    assertThat(agent.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(agent.exitValue()).isZero();
    // It drained for the termination drain duration (3 s here) before it stopped.
    assertThat(System.nanoTime() - signalled).isGreaterThan(TimeUnit.SECONDS.toNanos(3));
    assertThat(agent.descendants().filter(ProcessHandle::isAlive)).isEmpty();
    Host.Result after = NamespaceHttp.request(hub, 0, B_IP, 8080, "GET /after");
    assertThat(after.stdout()).doesNotContain("echo");
    assertThat(pods.log("b-1-agent.log")).contains("draining inbound listeners");
  }

  @Test
  void withExitOnZeroActiveConnectionsTheDrainEndsWithTheLastConnection() throws Exception {
    startB(
        Map.of(
            "EXIT_ON_ZERO_ACTIVE_CONNECTIONS", "true", "TERMINATION_DRAIN_DURATION_SECONDS", "30"));
    long acceptedBefore = accepted(pods.b, 15006);
    CompletableFuture<Host.Result> last =
        CompletableFuture.supplyAsync(() -> call(pods.a, B_IP, 8080, "/last?delay=1500", "b"));
    assertThat(eventually(() -> accepted(pods.b, 15006) > acceptedBefore, 10)).isTrue();
    long signalled = System.nanoTime();
    agent.destroy(); // SIGTERM
    assertThat(last.get(20, TimeUnit.SECONDS).stdout()).contains("echo 0.0.0.0:8080 /last");
    assertThat(agent.waitFor(25, TimeUnit.SECONDS)).isTrue();
    assertThat(agent.exitValue()).isZero();
    // Not at once (the request still had over a second to go) and well before the 30 s drain:
    // it ended when the last connection closed.
    assertThat(System.nanoTime() - signalled)
        .isBetween(TimeUnit.SECONDS.toNanos(1), TimeUnit.SECONDS.toNanos(15));
    assertThat(pods.log("b-1-agent.log")).contains("no active connections left");
  }

  @Test
  void quitquitquitEndsTheProxyAndTheAgentAtOnce() throws Exception {
    startB(Map.of());
    long asked = System.nanoTime();
    assertThat(NamespaceHttp.request(pods.b, 0, "127.0.0.1", 15020, "POST /quitquitquit").stdout())
        .contains(" 200 ");
    assertThat(agent.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(agent.exitValue()).isZero();
    assertThat(System.nanoTime() - asked).isLessThan(TimeUnit.SECONDS.toNanos(3)); // no drain
    assertThat(NamespaceHttp.request(pods.b, 0, "127.0.0.1", 15000, "GET /ready").stdout())
        .doesNotContain(" 200 ");
  }

  @Test
  void quitquitquitOnTheProxysAdminEndsTheSidecarAsEnvoyExitingEndsPilotAgent() throws Exception {
    long logStart = pods.logMark("b-1-agent.log");
    startB(Map.of());
    assertThat(NamespaceHttp.request(pods.b, 0, "127.0.0.1", 15000, "POST /quitquitquit").stdout())
        .contains(" 200 ");
    assertThat(agent.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(agent.exitValue()).isZero();
    assertThat(pods.logSince("b-1-agent.log", logStart))
        .contains("proxy asked to quit")
        .doesNotContain("starting it again");
  }

  @Test
  void theAppsProbesAndMetricsGoThroughTheAgentAndWaitHoldsUntilReady() throws Exception {
    agent =
        pods.startAgent(
            pods.b,
            "b-1",
            B_IP,
            Map.of(
                "ISTIO_KUBE_APP_PROBERS",
                """
                {"/app-health/app/livez": {"httpGet": {"path": "/live", "port": 8080}},
                 "/app-health/app/readyz": {"tcpSocket": {"port": 8081}, "timeoutSeconds": 1},
                 "/app-lifecycle/app/prestopz": {"httpGet": {"path": "/stop", "port": 8080}}}
                """,
                "ISTIO_PROMETHEUS_ANNOTATIONS",
                "{\"scrape\": \"true\", \"path\": \"/metrics\", \"port\": \"8080\"}"));
    Host.Result waited =
        pods.b.exec(
            NetworkNamespace.javaBinary(),
            "-cp",
            NetworkNamespace.classPath(),
            AgentApplication.class.getName(),
            "wait",
            "--timeoutSeconds",
            "90");
    assertThat(waited.exitCode()).as(waited.stderr()).isZero();
    assertThat(SidecarPods.ready(pods.b)).isTrue();

    assertThat(status("GET /app-health/app/livez")).contains(" 200 ");
    assertThat(status("GET /app-health/app/readyz")).contains(" 500 ");
    assertThat(status("GET /app-health/other/livez")).contains(" 404 ");
    // A preStop hook the injector rewrote, made by the agent as the kubelet would have.
    assertThat(status("GET /app-lifecycle/app/prestopz")).contains(" 200 ");
    assertThat(status("GET /app-lifecycle/app/poststartz")).contains(" 404 ");
    assertThat(metrics())
        .contains("istio_agent_proxy_up 1")
        .contains("envoy_")
        .contains("echo 0.0.0.0:8080 /metrics");
  }

  @Test
  void thePodsStatusPortAnnotationMovesTheStatusServer() throws Exception {
    // What the istio-podinfo volume holds for a pod annotated status.sidecar.istio.io/port.
    java.nio.file.Path annotations =
        java.nio.file.Files.writeString(
            pods.work.resolve("b-1-annotations"), "status.sidecar.istio.io/port=\"15123\"\n");
    startB(Map.of("MESH_POD_ANNOTATIONS", annotations.toString()));
    assertThat(
            NamespaceHttp.request(pods.b, 0, "127.0.0.1", 15123, "GET /stats/prometheus").stdout())
        .contains(" 200 ")
        .contains("istio_agent_proxy_up 1");
    assertThat(metrics()).doesNotContain(" 200 "); // nothing on 15020
  }

  @Test
  void anAgentWithoutItsPodsIdentitySaysWhatIsMissing() throws Exception {
    Host.Result r =
        pods.b.exec(
            "env",
            "-u",
            "INSTANCE_IP",
            "POD_NAME=b-1",
            "POD_NAMESPACE=default",
            NetworkNamespace.javaBinary(),
            "-cp",
            NetworkNamespace.classPath(),
            AgentApplication.class.getName(),
            "proxy",
            "sidecar");
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.stderr()).contains("INSTANCE_IP is not set").doesNotContain("Exception");
    Host.Result usage =
        pods.b.exec(
            NetworkNamespace.javaBinary(),
            "-cp",
            NetworkNamespace.classPath(),
            AgentApplication.class.getName(),
            "proxy");
    assertThat(usage.exitCode()).isEqualTo(2);
    assertThat(usage.stderr()).contains("usage: mesh-agent proxy sidecar");
  }

  static String status(String line) {
    return NamespaceHttp.request(pods.b, 0, "127.0.0.1", 15020, line).stdout();
  }

  static String metrics() {
    return status("GET /stats/prometheus");
  }
}
