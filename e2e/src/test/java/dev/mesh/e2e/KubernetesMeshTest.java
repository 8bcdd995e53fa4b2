package dev.mesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.e2e.cluster.Load;
import dev.mesh.e2e.cluster.LocalMeshCluster;
import dev.mesh.e2e.cluster.MeshCluster;
import dev.mesh.local.cluster.LocalCluster;
import dev.mesh.local.kube.KubeBinaries;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The mesh installed on the real control plane as users install it ({@code kubectl apply -f
 * install/mesh.yaml}), pilot and the injector running as pods with their service accounts: what the
 * API server enforces on them (RBAC, as its audit log shows; the webhook's failurePolicy) and what
 * kubectl shows a user.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KubernetesMeshTest {
  static LocalMeshCluster cluster;

  @BeforeAll
  static void install() throws Exception {
    KubeBinaries binaries = KubeBinaries.pinned();
    if (!binaries.present()) {
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(binaries.describeMissing());
      }
      Assumptions.abort("no real control plane here: " + binaries.describeMissing());
    }
    cluster = new LocalMeshCluster(Path.of(".."), LocalCluster.Api.KUBERNETES);
    cluster.apply(
        new NamespaceBuilder()
            .withNewMetadata()
            .withName("k8s")
            .addToLabels("istio-injection", "enabled")
            .endMetadata()
            .build());
  }

  @AfterAll
  static void uninstall() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static String kubectl(String... args) throws Exception {
    return cluster.mesh.runKubectl(args);
  }

  /** Writes {@code yaml} to {@code dir/name.yaml} and applies it as a user would: the file. */
  static Path kubectlApply(Path dir, String name, String yaml) throws Exception {
    Path file = dir.resolve(name + ".yaml");
    Files.writeString(file, yaml);
    kubectl("apply", "-f", file.toString());
    return file;
  }

  static void kubectlDelete(Path file) throws Exception {
    kubectl("delete", "-f", file.toString());
  }

  /** The serial of the certificate in force in a {@code proxy-config secret} table, or null. */
  static String activeSerial(String secretTable) {
    var m =
        java.util.regex.Pattern.compile(
                "(?m)^default\\s+Cert Chain\\s+ACTIVE\\s+true\\s+([0-9a-f]+)\\s")
            .matcher(secretTable);
    return m.find() ? m.group(1) : null;
  }

  @Test
  void kubectlShowsTheMeshsPodsRunning() throws Exception {
    String pods = kubectl("get", "pods", "-A");
    assertThat(pods).containsPattern("mesh-system\\s+mesh-pilot-\\S+\\s+1/1\\s+Running");
    assertThat(pods).containsPattern("mesh-system\\s+mesh-injector-\\S+\\s+1/1\\s+Running");
  }

  /**
   * What pilot's and the injector's service accounts did, from the API server's audit log, is what
   * their ClusterRoles and Roles grant: every request allowed, none beyond the roles, and no rule
   * unused.
   */
  @Test
  @Order(Integer.MAX_VALUE) // last: the log then holds everything the other tests made them do
  void theAuditLogShowsTheServiceAccountsUseExactlyTheirRoles() throws Exception {
    for (String sa : List.of("mesh-pilot", "mesh-injector")) {
      String user = "system:serviceaccount:mesh-system:" + sa;
      ClusterRole role = cluster.client().rbac().clusterRoles().withName(sa).get();
      List<PolicyRule> rules = new ArrayList<>(role.getRules());
      var namespaced =
          cluster.client().rbac().roles().inNamespace("mesh-system").withName(sa).get();
      if (namespaced != null) {
        rules.addAll(namespaced.getRules());
      }
      Set<String> granted = new TreeSet<>();
      for (PolicyRule r : rules) {
        for (String verb : r.getVerbs()) {
          if (r.getNonResourceURLs() != null && !r.getNonResourceURLs().isEmpty()) {
            r.getNonResourceURLs().forEach(u -> granted.add(verb + " " + u));
            continue;
          }
          for (String group : r.getApiGroups()) {
            for (String resource : r.getResources()) {
              granted.add(verb + " " + (group.isEmpty() ? "" : group + "/") + resource);
            }
          }
        }
      }
      Set<String> used = new TreeSet<>();
      List<String> denied = new ArrayList<>();
      Path audit = cluster.mesh.cluster.controlPlane().orElseThrow().auditLog();
      var json = new io.fabric8.kubernetes.client.utils.KubernetesSerialization();
      for (String line : Files.readAllLines(audit)) {
        Map<?, ?> e = json.unmarshal(line, Map.class);
        if (!user.equals(at(e, "user", "username"))) {
          continue;
        }
        String what = request(e);
        if (what == null) {
          continue; // discovery and the like, granted to every authenticated user
        }
        if ("403".equals(at(e, "responseStatus", "code"))) {
          denied.add(what);
        } else {
          used.add(what);
        }
      }
      assertThat(denied).as("%s's requests the API server refused", sa).isEmpty();
      assertThat(granted).as("%s: its ClusterRole against its audit log", sa).isEqualTo(used);
      // And the API server's own answer for a sample.
      // (kubectl warns first that namespaces are not namespaced; the answer is the last line)
      assertThat(canI(user, "watch", "namespaces")).endsWith("yes");
      assertThat(canI(user, "create", "pods")).endsWith("no");
      assertThat(canI(user, "get", "secrets")).endsWith("no");
    }
    // Pilot's Role: the CA's root in its own namespace, nowhere else.
    String pilot = "system:serviceaccount:mesh-system:mesh-pilot";
    assertThat(canI(pilot, "get", "secrets", "-n", "mesh-system")).endsWith("yes");
    assertThat(canI(pilot, "delete", "secrets", "-n", "mesh-system")).endsWith("no");
    assertThat(canI(pilot, "create", "tokenreviews.authentication.k8s.io")).endsWith("yes");
  }

  static String canI(String user, String verb, String resource, String... more) throws Exception {
    List<String> args = new ArrayList<>(List.of("auth", "can-i", "--as=" + user, verb, resource));
    args.addAll(List.of(more));
    var p =
        new ProcessBuilder(cluster.mesh.kubectl(args.toArray(String[]::new)))
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    p.waitFor();
    return out;
  }

  /** A field of a JSON object by its path, as text ("" when absent). */
  static String at(Map<?, ?> o, String... path) {
    Object v = o;
    for (String p : path) {
      v = v instanceof Map<?, ?> m ? m.get(p) : null;
    }
    return v == null ? "" : v.toString();
  }

  /** "verb group/resource" of an audit event, or null for what every user may do. */
  static String request(Map<?, ?> e) {
    String verb = at(e, "verb");
    if (!(e.get("objectRef") instanceof Map<?, ?>)) {
      String uri = at(e, "requestURI").replaceAll("\\?.*", "");
      return uri.equals("/version") ? verb + " " + uri : null;
    }
    String resource = at(e, "objectRef", "resource");
    String group = at(e, "objectRef", "apiGroup");
    if (resource.startsWith("self")) {
      return null; // self reviews, granted to every authenticated user
    }
    return verb + " " + (group.isEmpty() ? "" : group + "/") + resource;
  }

  /**
   * What a user does with kubectl on a meshed app: Deployments applied from YAML, a VirtualService
   * applied with {@code kubectl apply -f} that then routes the calls, the sidecar's log through
   * {@code kubectl logs -c istio-proxy}, and its admin port reached with {@code kubectl
   * port-forward}.
   */
  @Test
  void kubectlAppliesAVirtualServiceThatRoutesTheCallsAndReachesTheSidecar() throws Exception {
    Path dir = Files.createTempDirectory(cluster.mesh.cluster.state(), "kubectl-");
    StringBuilder app = new StringBuilder();
    app.append(
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: k8s}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: 8080}]
        """);
    for (String version : List.of("v1", "v2")) {
      app.append(
          """
          ---
          apiVersion: apps/v1
          kind: Deployment
          metadata: {name: web-%1$s, namespace: k8s}
          spec:
            replicas: 1
            selector: {matchLabels: {app: web, version: %1$s}}
            template:
              metadata: {labels: {app: web, version: %1$s}}
              spec:
                containers:
                - name: app
                  image: %2$s
                  args: [web, %1$s, "8080"]
                  ports: [{name: http, containerPort: 8080}]
          """
              .formatted(version, cluster.sampleImage()));
    }
    Files.writeString(dir.resolve("web.yaml"), app);
    kubectl("apply", "-f", dir.resolve("web.yaml").toString());
    cluster.createPod(
        new PodBuilder()
            .withNewMetadata()
            .withName("caller")
            .withNamespace("k8s")
            .addToLabels("app", "caller")
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("app")
            .withImage(cluster.sampleImage())
            .withArgs("caller", "v1", "8080")
            .endContainer()
            .endSpec()
            .build(),
        Duration.ofSeconds(180));
    for (String version : List.of("v1", "v2")) {
      kubectl("rollout", "status", "-n", "k8s", "deployment/web-" + version, "--timeout=180s");
    }
    Set<String> answers = new TreeSet<>();
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> {
                  answers.add(callWeb());
                  return answers.containsAll(List.of("web v1", "web v2"));
                },
                Duration.ofSeconds(90)))
        .as("both versions answer before any rule; answers %s", answers)
        .isTrue();

    Files.writeString(
        dir.resolve("route.yaml"),
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: web, namespace: k8s}
        spec:
          host: web.k8s.svc.cluster.local
          subsets:
          - {name: v1, labels: {version: v1}}
          - {name: v2, labels: {version: v2}}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: web, namespace: k8s}
        spec:
          hosts: [web.k8s.svc.cluster.local]
          http:
          - route:
            - destination: {host: web.k8s.svc.cluster.local, subset: v2}
        """);
    String applied = kubectl("apply", "-f", dir.resolve("route.yaml").toString());
    assertThat(applied)
        .contains("destinationrule.networking.istio.io/web created")
        .contains("virtualservice.networking.istio.io/web created");
    // Taken into effect once twenty calls in a row answer v2; then v1 never answers again.
    int[] inARow = {0};
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> {
                  inARow[0] = callWeb().equals("web v2") ? inARow[0] + 1 : 0;
                  return inARow[0] >= 20;
                },
                Duration.ofSeconds(60)))
        .as("the VirtualService routes every call to v2; pilot log:%n%s", cluster.pilotLog())
        .isTrue();
    for (int i = 0; i < 30; i++) {
      assertThat(callWeb()).isEqualTo("web v2");
    }

    String proxyLog = kubectl("logs", "-n", "k8s", "caller", "-c", "istio-proxy");
    assertThat(proxyLog)
        .as("kubectl logs caller -c istio-proxy")
        .contains("caller.k8s")
        .containsPattern("(?i)ready|started");

    try (PortForward admin = PortForward.open("k8s", "pod/caller", 15000)) {
      var http = java.net.http.HttpClient.newHttpClient();
      var ready =
          http.send(
              java.net.http.HttpRequest.newBuilder(
                      java.net.URI.create("http://127.0.0.1:" + admin.port() + "/ready"))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(ready.statusCode()).isEqualTo(200);
      assertThat(ready.body().strip()).isEqualTo("LIVE");
      var clusters =
          http.send(
              java.net.http.HttpRequest.newBuilder(
                      java.net.URI.create("http://127.0.0.1:" + admin.port() + "/clusters"))
                  .build(),
              java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(clusters.body())
          .as("the caller's sidecar's clusters through kubectl port-forward")
          .contains("outbound|80|v2|web.k8s.svc.cluster.local");
    }
  }

  /** {@code kubectl port-forward} to a pod's port, on a free local port, while open. */
  record PortForward(Process process, int port) implements AutoCloseable {
    static PortForward open(String namespace, String target, int remote) throws Exception {
      Process p =
          new ProcessBuilder(
                  cluster.mesh.kubectl("port-forward", "-n", namespace, target, ":" + remote))
              .redirectErrorStream(true)
              .start();
      String line =
          new java.io.BufferedReader(
                  new java.io.InputStreamReader(
                      p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))
              .readLine();
      var m =
          java.util.regex.Pattern.compile("Forwarding from 127\\.0\\.0\\.1:(\\d+) -> " + remote)
              .matcher(line == null ? "" : line);
      if (!m.find()) {
        p.destroy();
        throw new AssertionError("kubectl port-forward " + target + " printed " + line);
      }
      return new PortForward(p, Integer.parseInt(m.group(1)));
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      process.waitFor();
    }
  }

  /**
   * Pilot's CA as a workload meets it: a service-account token for audience istio-ca (from the
   * TokenRequest API) gets a certificate for that account's SPIFFE identity over TLS on 15012,
   * whose chain ends in the root pilot publishes in every namespace; a token for another audience
   * is refused; a root ConfigMap changed by hand is put back.
   */
  @Test
  @Order(1)
  void pilotsCaCertifiesAServiceAccountTokenAsItsSpiffeIdentity() throws Exception {
    String[] root = new String[1];
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> (root[0] = publishedRoot("k8s")) != null, Duration.ofSeconds(60)))
        .as("pilot publishes ConfigMap istio-ca-root-cert in namespace k8s")
        .isTrue();
    String token = kubectl("create", "token", "default", "-n", "k8s", "--audience", "istio-ca");
    String otherAudience = kubectl("create", "token", "default", "-n", "k8s");
    var key = dev.mesh.security.WorkloadKeys.ecdsaP256();
    String csr = dev.mesh.security.Csr.build(key, List.of());
    try (PortForward ca = PortForward.open("mesh-system", "deploy/mesh-pilot", 15012)) {
      var channel =
          io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", ca.port())
              .overrideAuthority("mesh-pilot.mesh-system.svc")
              .sslContext(
                  io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts.forClient()
                      .trustManager(dev.mesh.security.Pem.certificates(root[0]).get(0))
                      .build())
              .build();
      try {
        List<String> chain =
            dev.mesh.security.CaCalls.createCertificate(
                channel, token.strip(), csr, null, Duration.ofSeconds(30));
        var leaf = dev.mesh.security.Pem.certificates(chain.get(0)).get(0);
        assertThat(leaf.getSubjectAlternativeNames())
            .as("the leaf's SANs")
            .containsExactly(List.of(6, "spiffe://cluster.local/ns/k8s/sa/default"));
        assertThat(leaf.getPublicKey()).isEqualTo(key.getPublic());
        assertThat(chain.get(chain.size() - 1).strip()).isEqualTo(root[0].strip());
        var refused =
            org.assertj.core.api.Assertions.catchThrowableOfType(
                io.grpc.StatusRuntimeException.class,
                () ->
                    dev.mesh.security.CaCalls.createCertificate(
                        channel, otherAudience.strip(), csr, null, Duration.ofSeconds(30)));
        assertThat(refused.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED);

        // The SAN follows the token, whatever the CSR asks for.
        var asking =
            dev.mesh.security.CaCalls.createCertificate(
                channel,
                token.strip(),
                dev.mesh.security.Csr.build(
                    key, List.of("spiffe://cluster.local/ns/mesh-system/sa/mesh-pilot")),
                null,
                Duration.ofSeconds(30));
        assertThat(
                dev.mesh.security.Pem.certificates(asking.get(0))
                    .get(0)
                    .getSubjectAlternativeNames())
            .as("a CSR asking for pilot's identity gets the token's")
            .containsExactly(List.of(6, "spiffe://cluster.local/ns/k8s/sa/default"));
        // No token; a TTL above the maximum; the token of a service account since deleted.
        var noToken =
            org.assertj.core.api.Assertions.catchThrowableOfType(
                io.grpc.StatusRuntimeException.class,
                () ->
                    dev.mesh.security.CaCalls.createCertificate(
                        channel, null, csr, null, Duration.ofSeconds(30)));
        assertThat(noToken.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.UNAUTHENTICATED);
        var tooLong =
            org.assertj.core.api.Assertions.catchThrowableOfType(
                io.grpc.StatusRuntimeException.class,
                () ->
                    dev.mesh.security.CaCalls.createCertificate(
                        channel, token.strip(), csr, Duration.ofDays(91), Duration.ofSeconds(30)));
        assertThat(tooLong.getStatus().getCode()).isEqualTo(io.grpc.Status.Code.INVALID_ARGUMENT);
        assertThat(tooLong.getStatus().getDescription())
            .isEqualTo(
                "CSR signing error (requested TTL 2184h0m0s is greater than the max allowed TTL"
                    + " 2160h0m0s)");
        kubectl("create", "serviceaccount", "gone", "-n", "k8s");
        String goneToken =
            kubectl("create", "token", "gone", "-n", "k8s", "--audience", "istio-ca");
        kubectl("delete", "serviceaccount", "gone", "-n", "k8s");
        String[] goneCode = new String[1];
        assertThat(
                dev.mesh.local.Build.eventually(
                    () -> {
                      try {
                        dev.mesh.security.CaCalls.createCertificate(
                            channel, goneToken.strip(), csr, null, Duration.ofSeconds(30));
                        goneCode[0] = "OK";
                      } catch (io.grpc.StatusRuntimeException e) {
                        goneCode[0] = e.getStatus().getCode().toString();
                      }
                      return goneCode[0].equals("UNAUTHENTICATED");
                    },
                    Duration.ofSeconds(30)))
            .as("a deleted service account's token is refused; last %s", goneCode[0])
            .isTrue();
      } finally {
        channel.shutdownNow().awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
      }
    }

    kubectl(
        "patch",
        "configmap",
        "istio-ca-root-cert",
        "-n",
        "k8s",
        "--type=merge",
        "-p",
        "{\"data\":{\"root-cert.pem\":\"changed by hand\"}}");
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> root[0].equals(publishedRoot("k8s")), Duration.ofSeconds(60)))
        .as("pilot puts its root back in ConfigMap k8s/istio-ca-root-cert")
        .isTrue();
  }

  /** A sample app's pod in namespace k8s answering "{@code app} {@code answer}". */
  static io.fabric8.kubernetes.api.model.Pod samplePod(String name, String app, boolean meshed) {
    return cluster.samplePod(
        "k8s",
        name,
        Map.of("app", app, "sidecar.istio.io/inject", Boolean.toString(meshed)),
        app,
        name);
  }

  /** A call from a pod's app to service secure: the answer, head and body. */
  static String secure(String pod) {
    return secure(pod, "GET /");
  }

  static String secure(String pod, String requestLine) {
    return cluster.request(
        "k8s",
        pod,
        "secure.k8s.svc.cluster.local",
        80,
        requestLine,
        "secure.k8s.svc.cluster.local");
  }

  /** An HTTP call from a pod's app through TCP service tcp-echo: empty when closed unanswered. */
  static String tcpEcho(String pod) {
    return cluster.request("k8s", pod, "tcp-echo.k8s.svc.cluster.local", 9000, "GET /", "tcp-echo");
  }

  /** A call from a pod's app to service secure: true when it answered 200. */
  static boolean callsSecure(String pod) {
    return MeshCluster.status(secure(pod)) == 200;
  }

  /**
   * Zero trust as Istio users get it, with no configuration: sidecars certified by pilot's CA talk
   * mutual TLS (the server's metrics name the caller's SPIFFE identity), a pod without sidecar
   * still gets through (PERMISSIVE, the default); a STRICT PeerAuthentication shuts it out, and an
   * AuthorizationPolicy denying the caller's service account turns its calls into 403s.
   */
  @Test
  void meshedPodsTalkMutualTlsAndPeerAuthenticationAndAuthorizationPolicyApply() throws Exception {
    Path dir = Files.createTempDirectory(cluster.mesh.cluster.state(), "zero-trust-");
    cluster.apply(
        new io.fabric8.kubernetes.api.model.ServiceBuilder()
            .withNewMetadata()
            .withName("secure")
            .withNamespace("k8s")
            .endMetadata()
            .withNewSpec()
            .addToSelector("app", "secure")
            .addNewPort()
            .withName("http")
            .withPort(80)
            .withNewTargetPort(8080)
            .endPort()
            .endSpec()
            .build());
    // A TCP service, for the network RBAC filter: the sample app behind a port named tcp.
    cluster.apply(
        new io.fabric8.kubernetes.api.model.ServiceBuilder()
            .withNewMetadata()
            .withName("tcp-echo")
            .withNamespace("k8s")
            .endMetadata()
            .withNewSpec()
            .addToSelector("app", "tcp-echo")
            .addNewPort()
            .withName("tcp")
            .withPort(9000)
            .withNewTargetPort(8080)
            .endPort()
            .endSpec()
            .build());
    cluster.apply(
        new io.fabric8.kubernetes.api.model.ServiceAccountBuilder()
            .withNewMetadata()
            .withName("other")
            .withNamespace("k8s")
            .endMetadata()
            .build());
    // Certificates of 20 s, renewed at half their life, as Istio's SECRET_TTL sets them.
    String shortLived = "{\"proxyMetadata\": {\"SECRET_TTL\": \"20s\"}}";
    List<io.fabric8.kubernetes.api.model.Pod> pods =
        List.of(
            samplePod("secure-1", "secure", true),
            samplePod("client-1", "client", true),
            samplePod("outsider", "outsider", false),
            new PodBuilder(samplePod("client-2", "client", true))
                .editSpec()
                .withServiceAccountName("other")
                .endSpec()
                .build(),
            samplePod("tcp-1", "tcp-echo", true),
            new PodBuilder(samplePod("rotating", "client", true))
                .editMetadata()
                .addToAnnotations("proxy.istio.io/config", shortLived)
                .endMetadata()
                .build());
    // Started together: their sidecars' starts overlap instead of adding up.
    var starting = java.util.concurrent.Executors.newFixedThreadPool(pods.size());
    try {
      List<java.util.concurrent.Future<io.fabric8.kubernetes.api.model.Pod>> started =
          new java.util.ArrayList<>();
      for (io.fabric8.kubernetes.api.model.Pod p : pods) {
        started.add(starting.submit(() -> cluster.createPod(p, Duration.ofSeconds(180))));
      }
      for (var f : started) {
        f.get();
      }
    } finally {
      starting.shutdownNow();
    }

    String[] last = new String[1];
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> MeshCluster.status(last[0] = secure("client-1")) == 200,
                Duration.ofSeconds(60)))
        .as("a meshed pod reaches service secure; last answer %s", last[0])
        .isTrue();
    String[] metrics = new String[1];
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> {
                  callsSecure("client-1");
                  metrics[0] =
                      cluster.request(
                          "k8s",
                          "secure-1",
                          "127.0.0.1",
                          15020,
                          "GET /stats/prometheus",
                          "127.0.0.1");
                  return java.util.regex.Pattern.compile(
                          "istio_requests_total\\{reporter=\"destination\"[^}]*"
                              + "source_principal=\"spiffe://cluster.local/ns/k8s/sa/default\""
                              + "[^}]*connection_security_policy=\"mutual_tls\"")
                      .matcher(metrics[0])
                      .find();
                },
                Duration.ofSeconds(60)))
        .as(
            "secure-1's sidecar counts the call as mutual TLS from client-1's identity:\n%s",
            metrics[0])
        .isTrue();
    assertThat(callsSecure("outsider")).as("PERMISSIVE: a pod without sidecar gets in").isTrue();

    // With MeshConfig's access log on (as Istio's demo profile has it), the callee's log names the
    // caller by the certificate meshctl shows on the caller. It takes a pilot restart (MeshConfig
    // is read at start), which keeps the root: the certificates issued before stay good.
    String root = publishedRoot("k8s");
    var meshConfig = cluster.client().configMaps().inNamespace("mesh-system").withName("mesh");
    String meshYaml = meshConfig.get().getData().get("mesh");
    meshConfig.edit(
        cm -> {
          cm.getData()
              .put(
                  "mesh",
                  meshYaml
                      + "accessLogFile: /dev/stdout\n"
                      + "accessLogFormat: \"%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE%"
                      + " peer=%DOWNSTREAM_PEER_URI_SAN% serial=%DOWNSTREAM_PEER_SERIAL%\"\n");
          return cm;
        });
    cluster.restartPilot();
    assertThat(publishedRoot("k8s")).as("pilot restarted keeps its root").isEqualTo(root);
    String[] secret = cluster.meshctl("proxy-config", "secret", "client-1.k8s");
    assertThat(secret[0]).as(secret[1]).isEqualTo("0");
    String serial = activeSerial(secret[1]);
    assertThat(serial).as("client-1's certificate in force:\n%s", secret[1]).isNotNull();
    String logged = "GET / 200 peer=spiffe://cluster.local/ns/k8s/sa/default serial=" + serial;
    String[] log = new String[1];
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> {
                  callsSecure("client-1");
                  try {
                    log[0] = kubectl("logs", "-n", "k8s", "secure-1", "-c", "istio-proxy");
                  } catch (Exception e) {
                    log[0] = e.toString();
                  }
                  return log[0].contains(logged);
                },
                Duration.ofSeconds(90)))
        .as("secure-1's access log has the line %s:\n%s", logged, log[0])
        .isTrue();

    // DestinationRule tls DISABLE: the caller's sidecar sends plaintext (the callee logs no peer);
    // ISTIO_MUTUAL stated explicitly: mutual TLS again.
    Path dr = null;
    for (String mode : List.of("DISABLE", "ISTIO_MUTUAL")) {
      dr =
          kubectlApply(
              dir,
              "dr",
              """
              apiVersion: networking.istio.io/v1
              kind: DestinationRule
              metadata: {name: secure, namespace: k8s}
              spec:
                host: secure
                trafficPolicy:
                  tls: {mode: %s}
              """
                  .formatted(mode));
      String path = "/dr-" + mode.toLowerCase(java.util.Locale.ROOT);
      String expected =
          mode.equals("DISABLE")
              ? "GET " + path + " 200 peer=- serial=-"
              : "GET " + path + " 200 peer=spiffe://cluster.local/ns/k8s/sa/default serial=";
      assertThat(
              dev.mesh.local.Build.eventually(
                  () -> {
                    secure("client-1", "GET " + path);
                    log[0] = cluster.logs("k8s", "secure-1", "istio-proxy");
                    return log[0].contains(expected);
                  },
                  Duration.ofSeconds(60)))
          .as("DestinationRule tls %s: secure-1 logs %s:\n%s", mode, expected, log[0])
          .isTrue();
    }
    kubectlDelete(dr);

    // A TCP port's AuthorizationPolicy: the network RBAC filter closes what it does not allow.
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> MeshCluster.status(tcpEcho("client-1")) == 200, Duration.ofSeconds(60)))
        .as("client-1 reaches the TCP service")
        .isTrue();
    Path tcpAllow =
        kubectlApply(
            dir,
            "tcp-allow",
            """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: tcp-other-only, namespace: k8s}
        spec:
          selector: {matchLabels: {app: tcp-echo}}
          action: ALLOW
          rules:
          - from: [{source: {principals: [cluster.local/ns/k8s/sa/other]}}]
        """);
    String[] tcp = new String[1];
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> (tcp[0] = tcpEcho("client-1")).isEmpty(), Duration.ofSeconds(60)))
        .as("a TCP policy allowing only sa other closes client-1's connection; last %s", tcp[0])
        .isTrue();
    String allowed = tcpEcho("client-2");
    assertThat(MeshCluster.status(allowed)).as("client-2 (sa other): %s", allowed).isEqualTo(200);
    kubectlDelete(tcpAllow);

    // Short-lived certificates rotate under continuous load: no request fails, and meshctl shows a
    // new serial each time.
    Load rotatingLoad =
        cluster.startLoad("k8s", "rotating", "secure.k8s.svc.cluster.local", 80, 20, "/");
    java.util.Set<String> serials = new java.util.LinkedHashSet<>();
    String[] table = new String[1];
    boolean rotated =
        dev.mesh.local.Build.eventually(
            () -> {
              String[] out;
              try {
                out = cluster.meshctl("proxy-config", "secret", "rotating.k8s");
              } catch (Exception e) {
                out = new String[] {"-1", e.toString()};
              }
              table[0] = out[1];
              String now = activeSerial(out[1]);
              if (now != null) {
                serials.add(now);
              }
              return serials.size() >= 3;
            },
            Duration.ofSeconds(90));
    List<String> rotatingLines = rotatingLoad.stop();
    assertThat(rotated)
        .as("rotating's certificate renewed twice; serials %s, last table:\n%s", serials, table[0])
        .isTrue();
    assertThat(rotatingLines).as("the load ran").isNotEmpty();
    assertThat(Load.failed(rotatingLines))
        .as("requests failed while certificates rotated, of %d", rotatingLines.size())
        .isEmpty();

    // STRICT for the whole namespace, applied under continuous load between sidecars: the load
    // loses nothing, the pod without a sidecar is shut out.
    Load load = cluster.startLoad("k8s", "client-1", "secure.k8s.svc.cluster.local", 80, 20, "/");
    assertThat(load.answers(0, Load::ok, Duration.ofSeconds(30)))
        .as("the load gets answers")
        .isTrue();
    kubectlApply(
        dir,
        "strict",
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: k8s}
        spec:
          mtls: {mode: STRICT}
        """);
    boolean shutOut =
        dev.mesh.local.Build.eventually(() -> !callsSecure("outsider"), Duration.ofSeconds(60));
    long strictAt = System.currentTimeMillis();
    assertThat(load.answers(strictAt + 1000, Load::ok, Duration.ofSeconds(30)))
        .as("the load goes on under STRICT")
        .isTrue();
    List<String> lines = load.stop();
    assertThat(shutOut).as("STRICT: the pod without sidecar is shut out").isTrue();
    assertThat(Load.failed(lines))
        .as("sidecar-to-sidecar requests failed while STRICT came in force, of %d", lines.size())
        .isEmpty();

    // A workload's port-level DISABLE lets the pod without sidecar in on that port.
    kubectlApply(
        dir,
        "port-disable",
        """
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: secure-port, namespace: k8s}
        spec:
          selector: {matchLabels: {app: secure}}
          mtls: {mode: STRICT}
          portLevelMtls:
            8080: {mode: DISABLE}
        """);
    assertThat(
            dev.mesh.local.Build.eventually(() -> callsSecure("outsider"), Duration.ofSeconds(60)))
        .as("portLevelMtls DISABLE on 8080: the pod without sidecar gets in there")
        .isTrue();
    assertThat(callsSecure("client-1")).as("and the meshed pod too").isTrue();
    kubectlDelete(dir.resolve("port-disable.yaml"));
    assertThat(
            dev.mesh.local.Build.eventually(() -> !callsSecure("outsider"), Duration.ofSeconds(60)))
        .as("the namespace's STRICT again once the port-level policy is gone")
        .isTrue();
    for (int i = 0; i < 10; i++) {
      assertThat(callsSecure("client-1")).as("STRICT: the meshed pod, call %d", i).isTrue();
    }

    // ALLOW principal default GET /x: client-1 (sa default) gets GET /x, not POST /x; client-2 (sa
    // other) gets nothing, since an ALLOW policy denies what matches none of its rules.
    kubectlApply(
        dir,
        "allow",
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: get-x, namespace: k8s}
        spec:
          selector: {matchLabels: {app: secure}}
          action: ALLOW
          rules:
          - from: [{source: {principals: [cluster.local/ns/k8s/sa/default]}}]
            to: [{operation: {methods: [GET], paths: [/x]}}]
        """);
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> MeshCluster.status(secure("client-1", "POST /x")) == 403,
                Duration.ofSeconds(60)))
        .as("ALLOW GET /x: POST /x is refused")
        .isTrue();
    assertThat(MeshCluster.status(secure("client-1", "GET /x"))).as("GET /x").isEqualTo(200);
    String other = secure("client-2", "GET /x");
    assertThat(MeshCluster.status(other)).as("another identity: %s", other).isEqualTo(403);
    assertThat(MeshCluster.body(other)).isEqualTo("RBAC: access denied");

    // A DENY policy wins over the ALLOW.
    kubectlApply(
        dir,
        "deny",
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-default-sa, namespace: k8s}
        spec:
          selector: {matchLabels: {app: secure}}
          action: DENY
          rules:
          - from: [{source: {principals: [cluster.local/ns/k8s/sa/default]}}]
        """);
    String[] denied = new String[1];
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> {
                  denied[0] = secure("client-1", "GET /x");
                  return MeshCluster.status(denied[0]) == 403;
                },
                Duration.ofSeconds(60)))
        .as("the DENY policy wins over the ALLOW for client-1; last answer %s", denied[0])
        .isTrue();
    assertThat(MeshCluster.body(denied[0])).isEqualTo("RBAC: access denied");
    kubectlDelete(dir.resolve("allow.yaml"));

    // spec: {} allows nothing.
    kubectlDelete(dir.resolve("deny.yaml"));
    kubectlApply(
        dir,
        "allow-nothing",
        """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: allow-nothing, namespace: k8s}
        spec: {}
        """);
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> MeshCluster.status(secure("client-2", "GET /")) == 403,
                Duration.ofSeconds(60)))
        .as("spec: {} denies everything")
        .isTrue();
    assertThat(MeshCluster.status(secure("client-1", "GET /"))).isEqualTo(403);
    kubectlDelete(dir.resolve("allow-nothing.yaml"));
    kubectlDelete(dir.resolve("strict.yaml"));
    assertThat(
            dev.mesh.local.Build.eventually(
                () -> callsSecure("client-1") && callsSecure("outsider"), Duration.ofSeconds(60)))
        .as("with both policies gone, both pods get in again")
        .isTrue();
  }

  static String publishedRoot(String namespace) {
    var cm =
        cluster.client().configMaps().inNamespace(namespace).withName("istio-ca-root-cert").get();
    return cm == null || cm.getData() == null ? null : cm.getData().get("root-cert.pem");
  }

  static String callWeb() {
    String out =
        cluster.request(
            "k8s", "caller", "web.k8s.svc.cluster.local", 80, "GET /", "web.k8s.svc.cluster.local");
    return MeshCluster.body(out).strip();
  }

  /**
   * With the injector down, creating a pod in an injected namespace is refused with the webhook's
   * error (failurePolicy Fail, as Istio documents); once it is back, the pod is created injected.
   */
  @Test
  void withTheInjectorDownPodCreationIsRefusedUntilItIsBack() throws Exception {
    kubectl("scale", "-n", "mesh-system", "deployment/mesh-injector", "--replicas=0");
    assertThat(
            dev.mesh.local.Build.eventually(
                () ->
                    cluster
                        .client()
                        .pods()
                        .inNamespace("mesh-system")
                        .withLabel("app", "mesh-injector")
                        .list()
                        .getItems()
                        .isEmpty(),
                Duration.ofSeconds(90)))
        .isTrue();
    var pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("refused")
            .withNamespace("k8s")
            .addToLabels("app", "refused")
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("app")
            .withImage(cluster.sampleImage())
            .withArgs("refused", "v1", "8080")
            .endContainer()
            .endSpec()
            .build();
    String refusal = null;
    try {
      cluster.client().resource(pod).create();
    } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
      refusal = e.getMessage();
    }
    assertThat(refusal)
        .as("the API server's answer with the injector down")
        .isNotNull()
        .contains("failed calling webhook")
        .contains("sidecar-injector.mesh.dev");

    kubectl("scale", "-n", "mesh-system", "deployment/mesh-injector", "--replicas=1");
    kubectl("rollout", "status", "-n", "mesh-system", "deployment/mesh-injector", "--timeout=120s");
    // Ready is not yet in the Service's endpoints: the API server may still be refused a moment.
    io.fabric8.kubernetes.api.model.Pod created = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (created == null) {
      try {
        created = cluster.createPod(pod, Duration.ofSeconds(180));
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (System.nanoTime() > deadline || !e.getMessage().contains("failed calling webhook")) {
          throw e;
        }
        Thread.sleep(500); // poll interval, bounded by the deadline
      }
    }
    assertThat(created.getSpec().getContainers())
        .extracting(c -> c.getName())
        .contains("app", "istio-proxy");
  }
}
