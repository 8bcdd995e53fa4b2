package dev.mesh.pilot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Pilot configures a real mesh-proxy, and what it configures is seen in real traffic (the
 * subclasses choose the registry: a config directory, or the Kubernetes API): in a network
 * namespace, iptables sends an app's connections to a service's cluster IP to the proxy's 15001 (as
 * mesh-init will), the proxy reaches pilot over its Unix socket, and the answers tell which pod
 * served each request.
 */
abstract class TrafficScenarios {
  static final String V1 = "10.44.1.1";
  static final String V2 = "10.44.1.2";
  static final String CLIENT = "10.44.0.2";
  static final String SERVICE_IP = "10.96.0.20";

  @TempDir static Path dir;
  static Path configDir;
  static Path socket;
  static NetworkNamespace ns;
  static ConfigurableApplicationContext pilot;
  static final HttpClient http = HttpClient.newHttpClient();

  static final String CAPTURE =
      """
      *nat
      :OUTPUT ACCEPT [0:0]
      -A OUTPUT -p tcp -d 10.96.0.0/16 -m owner ! --uid-owner 1337 -j REDIRECT --to-ports 15001
      COMMIT
      """;

  /** Where the test puts the mesh's YAML: pilot's config directory, or the Kubernetes API. */
  interface MeshStore {
    void put(String name, String yaml) throws Exception;

    void delete(String name) throws Exception;

    List<String> pilotArgs();
  }

  static MeshStore store;

  /** Files in pilot's config directory. */
  record FileStore(Path dir) implements MeshStore {
    @Override
    public void put(String name, String yaml) throws Exception {
      Files.writeString(dir.resolve(name), yaml);
    }

    @Override
    public void delete(String name) throws Exception {
      Files.deleteIfExists(dir.resolve(name));
    }

    @Override
    public List<String> pilotArgs() {
      return List.of("--config-dir=" + dir);
    }
  }

  /** The namespace, the apps, the proxy and pilot, with the mesh put in {@link #store}. */
  static void setUp() throws Exception {
    socket = dir.resolve("xds.sock");
    writeMesh(List.of(V1, V2));
    writeRoutes(100, 0);
    pilot = startPilot();
    ns = NetworkNamespace.create("pilot-traffic");
    for (String ip : List.of(CLIENT, V1, V2)) {
      ns.exec("ip", "addr", "add", ip + "/32", "dev", "lo").orThrow("ip addr add");
    }
    // The service range is routed (out of a link, as if to the node); capture redirects first.
    ns.exec("ip", "link", "add", "svc0", "type", "veth", "peer", "name", "svc1")
        .orThrow("ip link add");
    ns.exec("ip", "link", "set", "svc0", "up").orThrow("ip link set");
    ns.exec("ip", "link", "set", "svc1", "up").orThrow("ip link set");
    ns.exec("ip", "route", "add", "10.96.0.0/16", "dev", "svc0").orThrow("ip route add");
    NamespaceHttp.startEcho(ns, V1 + ":9080", dir.resolve("v1.log"));
    NamespaceHttp.startEcho(ns, V2 + ":9080", dir.resolve("v2.log"));
    Path bootstrap = dir.resolve("bootstrap.yaml");
    Files.writeString(
        bootstrap,
        """
        node:
          id: sidecar~%s~productpage-1.default~default.svc.cluster.local
          cluster: productpage.default
        dynamic_resources:
          ads_config:
            api_type: GRPC
            transport_api_version: V3
            grpc_services:
            - envoy_grpc: {cluster_name: xds-grpc}
          cds_config: {ads: {}, resource_api_version: V3}
          lds_config: {ads: {}, resource_api_version: V3}
        static_resources:
          clusters:
          - name: xds-grpc
            type: STATIC
            http2_protocol_options: {}
            load_assignment:
              cluster_name: xds-grpc
              endpoints: [{lb_endpoints: [{endpoint: {address: {pipe: {path: "%s"}}}}]}]
        admin:
          address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
        """
            .formatted(CLIENT, socket));
    ns.start(
        List.of(
            NetworkNamespace.javaBinary(),
            "-cp",
            NetworkNamespace.classPath(),
            "dev.mesh.proxy.Main",
            "-c",
            bootstrap.toString(),
            "--concurrency",
            "1",
            "--drain-time-s",
            "1"),
        dir.resolve("proxy.log"));
    assertThat(NamespaceHttp.awaitAnswer(ns, "127.0.0.1", 15000, "GET /ready", "LIVE", 60))
        .as("proxy ready; its log:\n%s", log("proxy.log"))
        .isTrue();
    ns.execWithInput(CAPTURE, "iptables-restore").orThrow("iptables-restore");
  }

  static void tearDown() {
    if (ns != null) {
      ns.close();
    }
    if (pilot != null) {
      pilot.close();
    }
  }

  static ConfigurableApplicationContext startPilot() {
    List<String> args = new java.util.ArrayList<>(store.pilotArgs());
    args.addAll(
        List.of(
            "--xds-uds=" + socket,
            "--server.port=0",
            "--spring.grpc.server.port=0",
            "--validation-port=0",
            // This branch's mesh-proxy takes no SDS secrets yet, and would refuse TLS listeners.
            "--mesh.mtls.enabled=false"));
    return SpringApplication.run(PilotApplication.class, args.toArray(String[]::new));
  }

  static String log(String name) {
    try {
      return Files.readString(dir.resolve(name));
    } catch (Exception e) {
      return e.toString();
    }
  }

  /** The reviews service (two pods, v1 and v2, with the given endpoints ready) and a client pod. */
  static void writeMesh(List<String> endpoints) throws Exception {
    StringBuilder eps = new StringBuilder();
    for (String ip : endpoints) {
      eps.append("- addresses: [\"").append(ip).append("\"]\n  conditions: {ready: true}\n");
    }
    String yaml =
        """
        apiVersion: v1
        kind: Service
        metadata: {name: reviews, namespace: default}
        spec:
          clusterIP: %s
          selector: {app: reviews}
          ports: [{name: http, port: 9080, targetPort: 9080}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: reviews-abc
          namespace: default
          labels: {kubernetes.io/service-name: reviews}
        addressType: IPv4
        ports: [{name: http, port: 9080, protocol: TCP}]
        endpoints:
        %s
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}
        spec: {containers: [{name: reviews, image: reviews}]}
        status: {podIP: %s}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: reviews-v2, namespace: default, labels: {app: reviews, version: v2}}
        spec: {containers: [{name: reviews, image: reviews}]}
        status: {podIP: %s}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: productpage-1, namespace: default, labels: {app: productpage}}
        spec: {containers: [{name: productpage, image: productpage}]}
        status: {podIP: %s}
        """
            .formatted(SERVICE_IP, eps.toString().indent(0).stripTrailing(), V1, V2, CLIENT);
    store.put("mesh.yaml", yaml);
  }

  /** Subsets by version; jason goes to v2; everyone else by the given weights. */
  static void writeRoutes(int v1, int v2) throws Exception {
    store.put(
        "routes.yaml",
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: reviews, namespace: default}
        spec:
          hosts: [reviews]
          http:
          - match:
            - headers:
                end-user: {exact: jason}
            route:
            - destination: {host: reviews, subset: v2}
          - route:
            - destination: {host: reviews, subset: v1}
              weight: %d
            - destination: {host: reviews, subset: v2}
              weight: %d
        """
            .formatted(v1, v2));
  }

  /** A request from the app (uid 1000) to the service's cluster IP; which pod answered. */
  static String call(String... headers) {
    Host.Result r =
        NamespaceHttp.request(ns, 1000, SERVICE_IP, 9080, "GET /reviews", "reviews:9080", headers);
    String out = r.stdout();
    if (out.contains("echo " + V1)) {
      return "v1";
    }
    if (out.contains("echo " + V2)) {
      return "v2";
    }
    return "failed: " + out + r.stderr();
  }

  /** Polls until {@code n} calls in a row are answered by {@code expected}. */
  static void awaitAll(String expected, int n, String... headers) throws Exception {
    awaitAll(() -> call(headers), expected, n);
  }

  static void awaitAll(java.util.function.Supplier<String> caller, String expected, int n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    int inRow = 0;
    String last = "";
    while (inRow < n && System.nanoTime() < deadline) {
      last = caller.get();
      inRow = last.equals(expected) ? inRow + 1 : 0;
    }
    assertThat(inRow).as("last answer: %s", last).isEqualTo(n);
  }

  @Test
  void weightsShiftTrafficAndAHeaderMatchPicksItsSubset() throws Exception {
    writeRoutes(100, 0);
    awaitAll("v1", 10);
    awaitAll("v2", 10, "end-user: jason");
    writeRoutes(0, 100);
    awaitAll("v2", 10);
    writeRoutes(50, 50);
    // Wait for the 50/50 split to be in force (a v1 answer again), then count.
    awaitAll("v1", 1);
    int v1 = 0;
    int n = 200;
    for (int i = 0; i < n; i++) {
      String who = call();
      assertThat(who).isIn("v1", "v2");
      v1 += who.equals("v1") ? 1 : 0;
    }
    // 50/50 over 200: 99.9% of runs land within ±3.3 standard deviations (±23).
    assertThat(v1).isBetween(77, 123);
  }

  @Test
  void aRemovedEndpointStopsGettingTraffic() throws Exception {
    writeRoutes(50, 50);
    writeMesh(List.of(V1, V2));
    awaitAll("v2", 1);
    writeMesh(List.of(V1));
    // The v2 subset is empty now: its share fails or retries; no answer comes from v2, and v1
    // still answers its share (a mesh where every call fails would pass the first check alone).
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    int clean = 0;
    int fromV1 = 0;
    while (clean < 30 && System.nanoTime() < deadline) {
      String who = call();
      clean = who.equals("v2") ? 0 : clean + 1;
      fromV1 = who.equals("v2") ? 0 : fromV1 + (who.equals("v1") ? 1 : 0);
    }
    assertThat(clean).isEqualTo(30);
    assertThat(fromV1).as("answers from v1 among the last 30").isGreaterThanOrEqualTo(5);
    writeMesh(List.of(V1, V2));
  }

  @Test
  void aPortThatNamesNoProtocolIsSniffedAndItsVirtualServiceApplies() throws Exception {
    store.put(
        "ratings.yaml",
        """
        apiVersion: v1
        kind: Service
        metadata: {name: ratings, namespace: default}
        spec:
          clusterIP: %1$s
          selector: {app: reviews}
          ports: [{port: 9090, targetPort: 9080}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: ratings-abc
          namespace: default
          labels: {kubernetes.io/service-name: ratings}
        addressType: IPv4
        ports: [{port: 9080, protocol: TCP}]
        endpoints:
        - {addresses: ["%2$s"], conditions: {ready: true}}
        - {addresses: ["%3$s"], conditions: {ready: true}}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: ratings, namespace: default}
        spec:
          host: ratings
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: ratings, namespace: default}
        spec:
          hosts: [ratings]
          http:
          - match:
            - headers:
                end-user: {exact: jason}
            route:
            - destination: {host: ratings, subset: v2}
          - route:
            - destination: {host: ratings, subset: v1}
        """
            .formatted(RATINGS_IP, V1, V2));
    try {
      awaitAll(() -> callRatings(), "v1", 10);
      awaitAll(() -> callRatings("end-user: jason"), "v2", 10);
    } finally {
      store.delete("ratings.yaml");
    }
  }

  static final String RATINGS_IP = "10.96.0.21";

  /** A request from the app to ratings' port, which names no protocol. */
  static String callRatings(String... headers) {
    Host.Result r =
        NamespaceHttp.request(ns, 1000, RATINGS_IP, 9090, "GET /ratings", "ratings:9090", headers);
    String out = r.stdout();
    return out.contains("echo " + V1) ? "v1" : out.contains("echo " + V2) ? "v2" : "failed: " + out;
  }

  @Test
  void aResourceTheProxyCannotHonourIsNackedAndThePreviousConfigServes() throws Exception {
    writeRoutes(100, 0);
    awaitAll("v1", 5);
    store.put(
        "hash.yaml",
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews-hash, namespace: default}
        spec:
          host: reviews
          trafficPolicy:
            loadBalancer:
              consistentHash: {httpHeaderName: x-user}
        """);
    try {
      // Pilot's own DestinationRule for reviews comes first; this one names the same host, so
      // make it the only one for a moment.
      store.delete("routes.yaml");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      String syncz = "";
      while (System.nanoTime() < deadline && !syncz.contains("RING_HASH")) {
        syncz = debug("/debug/syncz");
        Thread.sleep(100); // poll interval
      }
      assertThat(syncz).contains("\"nack_error\"").contains("RING_HASH");
      // The proxy keeps the last config it accepted: traffic still flows.
      assertThat(call()).isIn("v1", "v2");
      assertThat(debug("/metrics")).contains("pilot_total_xds_rejects{type=\"cds\"}");
    } finally {
      store.delete("hash.yaml");
      writeRoutes(100, 0);
    }
    awaitAll("v1", 5);
  }

  @Test
  void trafficFlowsWhilePilotIsAwayAndTheProxyResyncsWhenItReturns() throws Exception {
    writeRoutes(100, 0);
    awaitAll("v1", 5);
    pilot.close();
    try {
      awaitAll("v1", 10); // the last config serves
      writeRoutes(0, 100); // a change while pilot is away
    } finally {
      pilot = startPilot();
    }
    awaitAll("v2", 10);
    writeRoutes(100, 0);
    awaitAll("v1", 5);
  }

  @Test
  void aStrictPeerAuthenticationIsNotSilentlyAccepted() throws Exception {
    var warnings = new java.util.concurrent.LinkedBlockingQueue<String>();
    var logger = java.util.logging.Logger.getLogger("dev.mesh.pilot.xds.SecurityNotice");
    var handler =
        new java.util.logging.Handler() {
          @Override
          public void publish(java.util.logging.LogRecord r) {
            warnings.add(r.getLevel() + " " + r.getMessage());
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    logger.addHandler(handler);
    try {
      store.put(
          "strict.yaml",
          """
          apiVersion: security.istio.io/v1
          kind: PeerAuthentication
          metadata: {name: default, namespace: default}
          spec:
            mtls: {mode: STRICT}
          """);
      String warning = warnings.poll(20, TimeUnit.SECONDS);
      assertThat(warning)
          .startsWith("WARNING")
          .contains("PeerAuthentication default/default")
          .contains("STRICT")
          .contains("NOT enforced");
    } finally {
      logger.removeHandler(handler);
      store.delete("strict.yaml");
    }
  }

  @Test
  void underLoadAStreamOfRouteAndEndpointChangesFailsNoRequestAndEachTakesEffect()
      throws Exception {
    writeMesh(List.of(V1, V2));
    writeRoutes(100, 0);
    awaitAll("v1", 5);
    int rps = 250;
    int seconds = 9;
    Path results = dir.resolve("load.txt");
    Process load =
        ns.start(
            List.of(
                // As root: captured all the same (only uid 1337 is exempt), and able to read
                // the jars of the local Maven repository.
                NetworkNamespace.javaBinary(),
                "-cp",
                NetworkNamespace.classPath(),
                "dev.mesh.local.apps.LoadClient",
                SERVICE_IP,
                "9080",
                Integer.toString(rps),
                Integer.toString(seconds),
                "reviews:9080",
                results.toString()),
            dir.resolve("load.log"));
    // A change every 0.5 s, in the order an operator would make them: a pod joins the service,
    // the routes move to its version, the other version's pod leaves.
    List<long[]> flips = new java.util.ArrayList<>(); // {time, 1 for v1 | 2 for v2}
    for (int i = 1; i <= 4; i++) {
      boolean toV2 = i % 2 == 1;
      Thread.sleep(500); // the pace of changes, not a wait for anything
      writeMesh(List.of(V1, V2));
      Thread.sleep(500);
      writeRoutes(toV2 ? 0 : 100, toV2 ? 100 : 0);
      flips.add(new long[] {System.currentTimeMillis(), toV2 ? 2 : 1});
      Thread.sleep(500);
      writeMesh(List.of(toV2 ? V2 : V1));
    }
    assertThat(load.waitFor(60, TimeUnit.SECONDS)).isTrue();
    writeMesh(List.of(V1, V2));
    List<String> lines = Files.readAllLines(results);
    assertThat(lines.size()).as("requests made").isGreaterThanOrEqualTo(rps * seconds * 9 / 10);
    List<String> failed = lines.stream().filter(l -> !l.split(" ")[1].equals("200")).toList();
    assertThat(failed).as("failed requests").isEmpty();
    // Each change took effect: a second after it, its version answers (and until the next one).
    for (int i = 0; i < flips.size(); i++) {
      long from = flips.get(i)[0] + 1000;
      long to = i + 1 < flips.size() ? flips.get(i + 1)[0] : Long.MAX_VALUE;
      String want = "echo " + (flips.get(i)[1] == 2 ? V2 : V1);
      List<String> window =
          lines.stream()
              .filter(
                  l -> {
                    long t = Long.parseLong(l.split(" ")[0]);
                    return t >= from && t < to;
                  })
              .toList();
      assertThat(window).as("responses after change %d", i + 1).isNotEmpty();
      assertThat(window).allMatch(l -> l.contains(want), "answered by " + want);
    }
  }

  static String debug(String path) throws Exception {
    String port = pilot.getEnvironment().getProperty("local.server.port");
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }
}
