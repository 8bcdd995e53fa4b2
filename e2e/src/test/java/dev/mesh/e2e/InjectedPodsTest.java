package dev.mesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.config.IstioResources;
import dev.mesh.local.Build;
import dev.mesh.local.mesh.LocalMesh;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.SidecarStats;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
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
 * The mesh end to end on one local cluster, scenario after scenario: pods created through the API
 * in a namespace labelled istio-injection=enabled are injected by the webhook, run their capture
 * rules, agent and proxy, and get their config from pilot, which watches the cluster's API.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class InjectedPodsTest {
  static LocalMesh mesh;
  static NetworkNamespace a;

  @BeforeAll
  static void install() throws Exception {
    mesh = new LocalMesh("e2e", java.nio.file.Path.of(".."));
    mesh.cluster.apply(
        new NamespaceBuilder()
            .withNewMetadata()
            .withName("demo")
            .addToLabels("istio-injection", "enabled")
            .endMetadata()
            .build());
    mesh.cluster.apply(
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
    mesh.cluster.createPod(sample("b-1", "b", "v1", "v1"), 120);
    mesh.cluster.createPod(sample("b-2", "b", "v2", "v2"), 120);
    mesh.cluster.createPod(sample("b-3", "b", "v1", "v1-3"), 120);
    mesh.cluster.createPod(sample("a-1", "a", "v1", "v1"), 120);
    a = mesh.cluster.namespaceOf("demo", "a-1");
  }

  @AfterAll
  static void uninstall() {
    if (mesh != null) {
      mesh.close();
    }
  }

  /** A sample app answering "b <answer>", labelled app and version. */
  static Pod sample(String name, String app, String version, String answer) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("demo")
        .addToLabels("app", app)
        .addToLabels("version", version)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(LocalMesh.SAMPLE_IMAGE)
        .withArgs(app, answer, "8080")
        .addNewPort()
        .withName("http")
        .withContainerPort(8080)
        .endPort()
        .endContainer()
        .endSpec()
        .build();
  }

  /** A call from pod A's app (uid 1000) to service b by name; the answer's body. */
  static String callB(String... headers) {
    String out =
        NamespaceHttp.request(
                a,
                1000,
                "b.demo.svc.cluster.local",
                80,
                "GET /",
                "b.demo.svc.cluster.local",
                headers)
            .stdout();
    int body = out.indexOf("\r\n\r\n");
    return body < 0 ? out : out.substring(body + 4);
  }

  static void apply(String yaml) {
    for (var r : IstioResources.parseAll(yaml)) {
      mesh.cluster.client().resource(r).createOr(op -> op.update());
    }
  }

  @Test
  @Order(1)
  void injectedPodsTalkThroughBothSidecars() {
    Pod stored = mesh.cluster.client().pods().inNamespace("demo").withName("b-1").get();
    assertThat(stored.getSpec().getInitContainers())
        .extracting(Container::getName)
        .containsExactly("istio-init");
    assertThat(stored.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("app", "istio-proxy");
    assertThat(stored.getMetadata().getAnnotations()).containsKey("sidecar.istio.io/status");

    NetworkNamespace b = mesh.cluster.namespaceOf("demo", "b-1");
    long inboundBefore = SidecarStats.accepted(b, 15006);
    boolean reachedB1 = false;
    for (int i = 0; i < 30 && !reachedB1; i++) {
      String answer = callB();
      assertThat(answer).as("pilot log:\n%s", mesh.log("pilot.log")).startsWith("b v");
      reachedB1 = answer.equals("b v1");
    }
    assertThat(SidecarStats.accepted(a, 15001) + SidecarStats.accepted(a, 80))
        .as("a's virtualOutbound")
        .isPositive();
    assertThat(SidecarStats.accepted(b, 15006))
        .as("b-1's virtualInbound")
        .isGreaterThan(inboundBefore);
  }

  @Test
  @Order(2)
  void aPodWithoutSidecarReachesAnInjectedOne() throws Exception {
    Pod plain = sample("plain", "plain", "v1", "v1");
    plain.getMetadata().getLabels().put("sidecar.istio.io/inject", "false");
    Pod stored = mesh.cluster.createPod(plain, 120);
    assertThat(stored.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("app");
    String out =
        NamespaceHttp.request(
                mesh.cluster.namespaceOf("demo", "plain"),
                1000,
                "b.demo.svc.cluster.local",
                80,
                "GET /",
                "b")
            .stdout();
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

  static final String RULES =
      """
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: {name: b, namespace: demo}
      spec:
        host: b
        subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
      ---
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: b, namespace: demo}
      spec:
        hosts: [b]
        http:
        - match: [{headers: {x-canary: {exact: "yes"}}}]
          route: [{destination: {host: b, subset: v2}}]
        - route:
          - {destination: {host: b, subset: v1}, weight: %d}
          - {destination: {host: b, subset: v2}, weight: %d}
      """;

  @Test
  @Order(3)
  void aWeightedSplitHoldsItsBoundAndAHeaderPicksItsSubset() throws Exception {
    apply(RULES.formatted(80, 20));
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
    apply(RULES.formatted(50, 50));
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
    apply(RULES.formatted(80, 20));
  }

  @Test
  @Order(4)
  void removingAnEndpointStopsTrafficToItWithinASecond() throws Exception {
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
    mesh.cluster.deletePod("demo", "b-3");
    load.get();
    assertThat(lastSeen.get() - deleted)
        .as("last answer from b-3, in ns after its deletion began")
        .isLessThan(Duration.ofSeconds(1).toNanos());
  }

  /** A request from pod A's app to service b with a path: its status line and body. */
  static String get(String path) {
    return NamespaceHttp.request(
            a, 1000, "b.demo.svc.cluster.local", 80, "GET " + path, "b.demo.svc.cluster.local")
        .stdout();
  }

  @Test
  @Order(5)
  void retriesHideAFlakyUpstreamFaultsAreInjectedAndATimeoutCutsASlowOne() throws Exception {
    apply(
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: b, namespace: demo}
        spec:
          hosts: [b]
          http:
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
    for (int i = 0; i < 5; i++) {
      assertThat(get("/metrics-check")).contains(" 200 ");
    }
    String source =
        NamespaceHttp.request(a, 0, "127.0.0.1", 15020, "GET /stats/prometheus").stdout();
    NetworkNamespace b1 = mesh.cluster.namespaceOf("demo", "b-1");
    String destination =
        NamespaceHttp.request(b1, 0, "127.0.0.1", 15020, "GET /stats/prometheus").stdout();
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
}
