package dev.mesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.config.IstioResources;
import dev.mesh.e2e.cluster.Load;
import dev.mesh.e2e.cluster.MeshCluster;
import dev.mesh.e2e.cluster.MeshClusters;
import dev.mesh.local.Build;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The mesh end to end on one cluster, scenario after scenario: pods created through the API in a
 * namespace labelled istio-injection=enabled are injected by the webhook, run their capture rules,
 * agent and proxy, and get their config from pilot, which watches the cluster's API. The cluster is
 * the local one by default, kind with {@code -Pe2e-kind} (see {@link MeshClusters}). The order
 * tells the story; no scenario relies on it: each sets the routing it needs first (run once without
 * the orderer and {@code -Djunit.jupiter.testmethod.order.default=
 * org.junit.jupiter.api.MethodOrderer$Random} to see).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class InjectedPodsTest {
  static final Duration READY = Duration.ofSeconds(120);
  static MeshCluster cluster;

  @BeforeAll
  static void install() throws Exception {
    cluster = MeshClusters.open(java.nio.file.Path.of(".."));
    cluster.apply(
        new NamespaceBuilder()
            .withNewMetadata()
            .withName("demo")
            .addToLabels("istio-injection", "enabled")
            .endMetadata()
            .build());
    cluster.apply(
        new ServiceBuilder()
            .withNewMetadata()
            .withName("b")
            .withNamespace("demo")
            .endMetadata()
            .withNewSpec()
            .addToSelector("app", "b")
            .addNewPort()
            .withName("http")
            .withPort(80)
            .withNewTargetPort(8080)
            .endPort()
            .endSpec()
            .build());
    cluster.createPod(sample("b-1", "b", "v1", "v1"), READY);
    cluster.createPod(sample("b-2", "b", "v2", "v2"), READY);
    cluster.createPod(sample("b-3", "b", "v1", "v1-3"), READY);
    cluster.createPod(sample("a-1", "a", "v1", "v1"), READY);
  }

  @AfterAll
  static void uninstall() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A sample app answering "b <answer>", labelled app and version. */
  static Pod sample(String name, String app, String version, String answer) {
    return cluster.samplePod(
        "demo", name, java.util.Map.of("app", app, "version", version), app, answer);
  }

  /** A call from pod A's app (uid 1000) to service b by name; the answer's body. */
  static String callB(String... headers) {
    String out =
        cluster.request(
            "demo",
            "a-1",
            "b.demo.svc.cluster.local",
            80,
            "GET /",
            "b.demo.svc.cluster.local",
            headers);
    return MeshCluster.body(out);
  }

  static void apply(String yaml) {
    for (var r : IstioResources.parseAll(yaml)) {
      cluster.client().resource(r).createOr(op -> op.update());
    }
  }

  @Test
  @Order(1)
  void injectedPodsTalkThroughBothSidecars() {
    noRouteB();
    Pod stored = cluster.client().pods().inNamespace("demo").withName("b-1").get();
    assertThat(stored.getSpec().getInitContainers())
        .extracting(Container::getName)
        .containsExactly("istio-init");
    assertThat(stored.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("app", "istio-proxy");
    assertThat(stored.getMetadata().getAnnotations()).containsKey("sidecar.istio.io/status");

    long inboundBefore = cluster.accepted("demo", "b-1", 15006);
    boolean reachedB1 = false;
    for (int i = 0; i < 30 && !reachedB1; i++) {
      String answer = callB();
      assertThat(answer).as("pilot log:\n%s", cluster.pilotLog()).startsWith("b v");
      reachedB1 = answer.equals("b v1");
    }
    assertThat(cluster.accepted("demo", "a-1", 15001) + cluster.accepted("demo", "a-1", 80))
        .as("a's virtualOutbound")
        .isPositive();
    assertThat(cluster.accepted("demo", "b-1", 15006))
        .as("b-1's virtualInbound")
        .isGreaterThan(inboundBefore);
  }

  @Test
  @Order(2)
  void aPodWithoutSidecarReachesAnInjectedOne() throws Exception {
    Pod plain = sample("plain", "plain", "v1", "v1");
    plain.getMetadata().getLabels().put("sidecar.istio.io/inject", "false");
    Pod stored = cluster.createPod(plain, READY);
    assertThat(stored.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("app");
    String out = cluster.request("demo", "plain", "b.demo.svc.cluster.local", 80, "GET /", "b");
    assertThat(out).contains("200").contains("b v");
  }

  /** How many of {@code n} answers came from subset v1 (b-1 or b-3). */
  static int fromV1(int n) throws Exception {
    List<CompletableFuture<String>> answers = new ArrayList<>();
    int v1 = 0;
    for (int i = 0; i < n; i++) {
      answers.add(CompletableFuture.supplyAsync(InjectedPodsTest::callB));
      if (answers.size() == 8 || i == n - 1) {
        for (var f : answers) {
          String s = f.get();
          assertThat(s).startsWith("b v");
          v1 += s.startsWith("b v1") ? 1 : 0;
        }
        answers.clear();
      }
    }
    return v1;
  }

  /** The 80/20 check: v1's count within a 99.9% binomial bound (3.29 sd) of 80%. */
  static boolean within8020(int v1, int n) {
    double sd = Math.sqrt(n * 0.8 * 0.2);
    return Math.abs(v1 - 0.8 * n) <= 3.29 * sd;
  }

  static final String SUBSETS =
      """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: {name: b, namespace: demo}
      spec:
        host: b
        subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
      """;

  /** Applies VirtualService b (for host b) with these http routes, a YAML list. */
  static void routeB(String http) {
    apply(
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: b, namespace: demo}
        spec:
          hosts: [b]
          http:
        """
            + http.indent(2));
  }

  /** The subsets, a header match sending x-canary: yes to v2, and the rest split by weight. */
  static void splitB(int v1, int v2) {
    apply(SUBSETS);
    routeB(
        """
        - match: [{headers: {x-canary: {exact: "yes"}}}]
          route: [{destination: {host: b, subset: v2}}]
        - route:
          - {destination: {host: b, subset: v1}, weight: %d}
          - {destination: {host: b, subset: v2}, weight: %d}
        """
            .formatted(v1, v2));
  }

  @Test
  @Order(3)
  void aWeightedSplitHoldsItsBoundAndAHeaderPicksItsSubset() throws Exception {
    splitB(80, 20);
    // Until it applies, the three pods share requests evenly: one v2 answer can be chance, ten in
    // a row are not.
    assertThat(
            Build.eventually(
                () ->
                    java.util.stream.IntStream.range(0, 10)
                        .allMatch(i -> callB("x-canary: yes").equals("b v2")),
                Duration.ofSeconds(20)))
        .as("the VirtualService took effect")
        .isTrue();
    for (int i = 0; i < 20; i++) {
      assertThat(callB("x-canary: yes")).isEqualTo("b v2");
    }
    int n = 1000;
    int v1 = fromV1(n);
    assertThat(within8020(v1, n)).as("%d of %d from v1 under 80/20", v1, n).isTrue();

    // The same check must fail when the mesh splits 50/50: it tells the two apart.
    splitB(50, 50);
    assertThat(
            Build.eventually(
                () -> {
                  try {
                    return !within8020(fromV1(100), 100);
                  } catch (Exception e) {
                    return false;
                  }
                },
                Duration.ofSeconds(20)))
        .isTrue();
    int half = fromV1(n);
    assertThat(within8020(half, n)).as("%d of %d from v1 under 50/50", half, n).isFalse();
    splitB(80, 20);
  }

  @Test
  @Order(4)
  void removingAnEndpointStopsTrafficToItWithinASecond() throws Exception {
    allToBInForce("v1");
    assertThat(Build.eventually(() -> callB().equals("b v1-3"), Duration.ofSeconds(10)))
        .as("b-3 takes traffic before it goes")
        .isTrue();
    var lastSeen = new java.util.concurrent.atomic.AtomicLong();
    var load =
        CompletableFuture.runAsync(
            () -> {
              long until = System.nanoTime() + Duration.ofSeconds(8).toNanos();
              while (System.nanoTime() < until) {
                if (callB().equals("b v1-3")) {
                  lastSeen.set(System.nanoTime());
                }
              }
            });
    assertThat(Build.eventually(() -> lastSeen.get() > 0, Duration.ofSeconds(5)))
        .as("the load reaches b-3 before its deletion")
        .isTrue();
    long deleted = System.nanoTime();
    cluster.deletePod("demo", "b-3");
    load.get();
    assertThat(lastSeen.get() - deleted)
        .as("last answer from b-3, in ns after its deletion began")
        .isLessThan(Duration.ofSeconds(1).toNanos());
  }

  /** A request from pod A's app to service b with a path: its status line and body. */
  static String get(String path) {
    return cluster.request(
        "demo", "a-1", "b.demo.svc.cluster.local", 80, "GET " + path, "b.demo.svc.cluster.local");
  }

  @Test
  @Order(5)
  void retriesHideAFlakyUpstreamFaultsAreInjectedAndATimeoutCutsASlowOne() throws Exception {
    apply(SUBSETS);
    routeB(
        """
        - match: [{uri: {prefix: /flaky}}]
          route: [{destination: {host: b, subset: v2}}]
          retries: {attempts: 3, retryOn: 5xx}
        - match: [{uri: {prefix: /teapot}}]
          route: [{destination: {host: b, subset: v2}}]
          fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
        - match: [{uri: {prefix: /delayed}}]
          route: [{destination: {host: b, subset: v2}}]
          fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
        - match: [{uri: {prefix: /slow}}]
          route: [{destination: {host: b, subset: v2}}]
          timeout: 500ms
        - route: [{destination: {host: b, subset: v1}}]
        """);
    assertThat(Build.eventually(() -> get("/teapot").contains(" 418 "), Duration.ofSeconds(20)))
        .as("the VirtualService took effect")
        .isTrue();
    // b-2 fails every other request; with retries the client never sees it.
    for (int i = 0; i < 20; i++) {
      assertThat(get("/flaky")).as("flaky request %d", i).contains(" 200 ").endsWith("b v2");
    }
    long t0 = System.nanoTime();
    assertThat(get("/delayed")).contains(" 200 ");
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(Duration.ofSeconds(1).toNanos());
    t0 = System.nanoTime();
    assertThat(get("/slow?ms=3000")).contains(" 504 ");
    assertThat(System.nanoTime() - t0).isLessThan(Duration.ofMillis(2500).toNanos());
  }

  @Test
  @Order(6)
  void istioRequestsTotalCountsACallOnBothSidesWithThePeerWorkloads() {
    allToBInForce("v1");
    String[] destinationMetrics = new String[1];
    // v1 may have more than one pod: calls until b-1 has answered one of them.
    assertThat(
            Build.eventually(
                () -> {
                  assertThat(get("/metrics-check")).contains(" 200 ");
                  destinationMetrics[0] =
                      cluster.request(
                          "demo", "b-1", "127.0.0.1", 15020, "GET /stats/prometheus", "127.0.0.1");
                  return destinationMetrics[0].contains("reporter=\"destination\"");
                },
                Duration.ofSeconds(30)))
        .as("b-1 counts a call as its destination")
        .isTrue();
    String source =
        cluster.request("demo", "a-1", "127.0.0.1", 15020, "GET /stats/prometheus", "127.0.0.1");
    String destination = destinationMetrics[0];
    assertThat(source)
        .as("a-1's merged metrics")
        .containsPattern("istio_requests_total\\{[^}]*reporter=\"source\"[^}]*\\}")
        .containsPattern(
            "istio_requests_total\\{[^}]*destination_workload=\"b-1\"[^}]*\\}|istio_requests_total\\{[^}]*destination_workload=\"b\"[^}]*\\}");
    assertThat(destination)
        .as("b-1's merged metrics")
        .containsPattern(
            "istio_requests_total\\{[^}]*reporter=\"destination\"[^}]*source_workload=\"a-1\"[^}]*\\}|istio_requests_total\\{[^}]*source_workload=\"a-1\"[^}]*reporter=\"destination\"[^}]*\\}");
  }

  /** Open-loop load from pod a-1 to service b. */
  static Load load(int rps, String path) throws Exception {
    return cluster.startLoad("demo", "a-1", "b.demo.svc.cluster.local", 80, rps, path);
  }

  static List<String> dueBetween(List<String> lines, long from, long to) {
    return lines.stream()
        .filter(
            l -> {
              long t = Long.parseLong(l.split(" ")[0]);
              return t >= from && t < to;
            })
        .toList();
  }

  /** All of b's traffic to one subset (the subsets applied too). */
  static void allToB(String subset) {
    apply(SUBSETS);
    routeB("- route: [{destination: {host: b, subset: %s}}]\n".formatted(subset));
  }

  /**
   * All of b's traffic to one subset, returning once ten calls in a row reach it: each scenario
   * sets the routing it needs, so none depends on what ran before it.
   */
  static void allToBInForce(String subset) {
    allToB(subset);
    assertThat(
            Build.eventually(
                () ->
                    java.util.stream.IntStream.range(0, 10)
                        .allMatch(i -> callB().startsWith("b " + subset)),
                Duration.ofSeconds(30)))
        .as("all of b's traffic to %s took effect", subset)
        .isTrue();
  }

  /** No VirtualService for b: its calls spread over every pod of b again. */
  static void noRouteB() {
    cluster
        .client()
        .genericKubernetesResources(VIRTUAL_SERVICES)
        .inNamespace("demo")
        .withName("b")
        .delete();
    java.util.Set<String> seen = new java.util.TreeSet<>();
    assertThat(
            Build.eventually(
                () -> {
                  String answer = callB();
                  seen.add(answer.length() < 4 ? answer : answer.substring(0, 4));
                  return seen.containsAll(List.of("b v1", "b v2"));
                },
                Duration.ofSeconds(30)))
        .as("without a VirtualService b's calls reach both versions; seen %s", seen)
        .isTrue();
  }

  @Test
  @Order(7)
  void aVirtualServiceChangeUnderLoadLosesNoRequestAndTakesEffect() throws Exception {
    allToBInForce("v1");
    Load load = load(40, "/load");
    // A second of answers before the change.
    long started = System.currentTimeMillis();
    assertThat(load.answers(started + 1000, l -> l.contains(" b v1"), Duration.ofSeconds(30)))
        .as("the load reaches v1")
        .isTrue();
    long changed = System.currentTimeMillis();
    allToB("v2");
    boolean moved = load.answers(changed + 2000, l -> l.contains(" 200 "), Duration.ofSeconds(20));
    List<String> lines = load.stop();
    assertThat(moved).as("the load went on after the change").isTrue();
    assertThat(Load.failed(lines)).as("failed requests of %d", lines.size()).isEmpty();
    assertThat(dueBetween(lines, 0, changed - 500))
        .as("before the change")
        .isNotEmpty()
        .allMatch(l -> l.contains(" b v1"));
    assertThat(dueBetween(lines, changed + 1000, Long.MAX_VALUE))
        .as("from a second after the change")
        .isNotEmpty()
        .allMatch(l -> l.endsWith(" b v2"));
  }

  @Test
  @Order(8)
  void aPilotRestartUnderLoadLosesNoRequestAndConfigFlowsAgain() throws Exception {
    allToBInForce("v2");
    Load load = load(30, "/load");
    assertThat(load.answers(0, l -> l.endsWith(" b v2"), Duration.ofSeconds(30)))
        .as("the load reaches v2")
        .isTrue();
    long down = System.currentTimeMillis();
    cluster.restartPilot();
    long up = System.currentTimeMillis();
    // A change made after the restart reaches the proxies: they are connected to the new pilot.
    allToB("v1");
    long changed = System.currentTimeMillis();
    boolean flowed =
        load.answers(changed, l -> l.contains(" b v1"), Duration.ofSeconds(45))
            && load.answers(
                System.currentTimeMillis() + 1000,
                l -> l.contains(" 200 "),
                Duration.ofSeconds(10));
    List<String> lines = load.stop();
    assertThat(flowed)
        .as("a change after the restart took effect; pilot log:\n%s", cluster.pilotLog())
        .isTrue();
    assertThat(Load.failed(lines)).as("failed requests of %d", lines.size()).isEmpty();
    assertThat(dueBetween(lines, down, up))
        .as("answers while pilot was away (%d ms)", up - down)
        .isNotEmpty()
        .allMatch(l -> l.endsWith(" b v2"));
  }

  @Test
  @Order(9)
  void deletingAPodDrainsItWithNoFailedRequestInFlight() throws Exception {
    allToBInForce("v1");
    cluster.createPod(sample("b-4", "b", "v1", "v1-4"), READY);
    // Requests of 300 ms at 30 a second: about ten in flight at any time, some on b-4.
    Load load = load(30, "/slow?ms=300");
    assertThat(load.answers(0, l -> l.endsWith(" b v1-4"), Duration.ofSeconds(30)))
        .as("the load reaches b-4")
        .isTrue();
    long deleted = System.currentTimeMillis();
    cluster.deletePod("demo", "b-4");
    long gone = System.currentTimeMillis();
    boolean wentOn =
        load.answers(
            gone + 1000,
            l -> l.contains(" b v1") && !l.endsWith(" b v1-4"),
            Duration.ofSeconds(20));
    List<String> lines = load.stop();
    assertThat(wentOn).as("the load went on on v1's other pods").isTrue();
    assertThat(Load.failed(lines)).as("failed requests of %d", lines.size()).isEmpty();
    assertThat(dueBetween(lines, deleted, deleted + 300))
        .as("requests due as the deletion began")
        .isNotEmpty();
    assertThat(dueBetween(lines, gone, Long.MAX_VALUE))
        .as("after b-4 has gone")
        .isNotEmpty()
        .noneMatch(l -> l.endsWith(" b v1-4"));
  }

  @Test
  @Order(10)
  void aJobsSidecarExitsThroughQuitQuitQuitSoTheJobCompletes() throws Exception {
    allToBInForce("v1");
    var job =
        new io.fabric8.kubernetes.api.model.batch.v1.JobBuilder()
            .withNewMetadata()
            .withName("report")
            .withNamespace("demo")
            .endMetadata()
            .withNewSpec()
            .withBackoffLimit(0)
            .withNewTemplate()
            .withNewMetadata()
            // The app starts once the proxy is ready, as Istio users configure Jobs.
            .addToAnnotations(
                "proxy.istio.io/config", "{\"holdApplicationUntilProxyStarts\": true}")
            .endMetadata()
            .withNewSpec()
            .withRestartPolicy("Never")
            .addNewContainer()
            .withName("report")
            .withImage(cluster.curlImage())
            .withCommand(
                "sh",
                "-c",
                "curl -sSf http://b.demo/report && echo"
                    + " && curl -sSf -XPOST http://127.0.0.1:15020/quitquitquit")
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    cluster.createJob(job);
    var jobs = cluster.client().batch().v1().jobs().inNamespace("demo").withName("report");
    boolean complete =
        Build.eventually(
            () -> {
              var status = jobs.get().getStatus();
              return status != null
                  && status.getConditions() != null
                  && status.getConditions().stream()
                      .anyMatch(
                          c -> c.getType().equals("Complete") || c.getType().equals("Failed"));
            },
            Duration.ofSeconds(90));
    Pod pod =
        cluster
            .client()
            .pods()
            .inNamespace("demo")
            .withLabel("job-name", "report")
            .list()
            .getItems()
            .get(0);
    String name = pod.getMetadata().getName();
    assertThat(pod.getSpec().getContainers())
        .extracting(Container::getName)
        .as("held until the proxy starts, the sidecar comes first")
        .containsExactly("istio-proxy", "report");
    assertThat(complete)
        .as("the Job finished; its app said:\n%s", cluster.logs("demo", name, "report"))
        .isTrue();
    assertThat(jobs.get().getStatus().getSucceeded()).isEqualTo(1);
    assertThat(cluster.logs("demo", name, "report")).startsWith("b v1");
    assertThat(pod.getStatus().getPhase()).isEqualTo("Succeeded");
    assertThat(pod.getStatus().getContainerStatuses())
        .allMatch(c -> c.getState().getTerminated().getExitCode() == 0);
  }

  /** meshctl run as a user runs it, with the cluster's kubeconfig: exit code and output. */
  static String[] meshctl(String... args) throws Exception {
    return cluster.meshctl(args);
  }

  static final io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext VIRTUAL_SERVICES =
      new io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext.Builder()
          .withGroup("networking.istio.io")
          .withVersion("v1")
          .withKind("VirtualService")
          .withPlural("virtualservices")
          .withNamespaced(true)
          .build();

  @Test
  @Order(12)
  void anInvalidVirtualServiceIsRefusedThroughTheApiAndThePreviousOneKeepsRouting()
      throws Exception {
    allToBInForce("v1");
    // As a user's kubectl apply sends it: the API server (not the client) checks it, through the
    // validating webhook pilot serves.
    String invalid =
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: %s, namespace: demo}
        spec:
          hosts: [b]
          http:
          - route:
            - {destination: {host: b, subset: v1}, weight: 80}
            - {destination: {host: b, subset: v2}, weight: 30}
        """;
    for (String name : List.of("b", "b-too")) {
      assertThatThrownBy(
              () ->
                  cluster
                      .client()
                      .genericKubernetesResources(VIRTUAL_SERVICES)
                      .inNamespace("demo")
                      .resource(
                          io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
                              invalid.formatted(name),
                              io.fabric8.kubernetes.api.model.GenericKubernetesResource.class))
                      .createOr(op -> op.update()))
          .as("VirtualService demo/%s with weights adding up to 110", name)
          .isInstanceOf(io.fabric8.kubernetes.client.KubernetesClientException.class)
          .hasMessageContaining(
              "admission webhook \"validation.istio.io\" denied the request: configuration is"
                  + " invalid")
          .hasMessageContaining("spec.http[0].route");
    }
    assertThat(
            cluster
                .client()
                .genericKubernetesResources(VIRTUAL_SERVICES)
                .inNamespace("demo")
                .withName("b-too")
                .get())
        .as("the refused VirtualService was not stored")
        .isNull();
    for (int i = 0; i < 20; i++) {
      assertThat(callB()).as("the valid VirtualService still routes").startsWith("b v1");
    }
  }

  @Test
  @Order(11)
  void meshctlReachesPilotAndTheSidecarsThroughTheClustersPortForward() throws Exception {
    allToBInForce("v1"); // the subsets exist, so the sidecars have their clusters
    String[] status = meshctl("proxy-status");
    assertThat(status[0]).as(status[1]).isEqualTo("0");
    assertThat(status[1]).containsPattern("a-1\\.demo\\s+SYNCED\\s+SYNCED");
    String[] clusters = meshctl("proxy-config", "clusters", "a-1.demo");
    assertThat(clusters[0]).as(clusters[1]).isEqualTo("0");
    assertThat(clusters[1])
        .containsPattern("b\\.demo\\.svc\\.cluster\\.local\\s+80\\s+v1\\s+outbound");
    String[] endpoints = meshctl("proxy-config", "endpoints", "b-1.demo");
    assertThat(endpoints[0]).as(endpoints[1]).isEqualTo("0");
    assertThat(endpoints[1]).contains("outbound|80|v2|b.demo.svc.cluster.local");
  }
}
