package dev.mesh.inject;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;

class KubeInjectTest {
  static final InjectionSettings SETTINGS = InjectionSettings.defaults();
  static final KubeInject KUBE_INJECT =
      new KubeInject(new SidecarInjector(SidecarTemplate.builtIn(), SETTINGS), SETTINGS);
  static final ObjectMapper JSON = JsonMapper.builder().build();

  static String bookinfo() throws Exception {
    try (var in = KubeInjectTest.class.getResourceAsStream("bookinfo.yaml")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @SuppressWarnings("unchecked")
  static <T> T only(List<HasMetadata> all, Class<T> type, String name) {
    return (T)
        all.stream()
            .filter(type::isInstance)
            .filter(o -> o.getMetadata().getName().equals(name))
            .findFirst()
            .orElseThrow();
  }

  static Map<String, EnvVar> env(Container c) {
    return c.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e));
  }

  @Test
  void everyWorkloadOfAManifestGetsItsSidecarAndTheRestIsUntouched() throws Exception {
    String original = bookinfo();
    String injected = KUBE_INJECT.inject(original);
    List<HasMetadata> objects = Serialization.unmarshal(injected);
    assertThat(objects).hasSize(7);

    PodTemplateSpec reviews = only(objects, Deployment.class, "reviews-v1").getSpec().getTemplate();
    assertThat(reviews.getSpec().getInitContainers())
        .extracting(Container::getName)
        .containsExactly("istio-init");
    assertThat(reviews.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("reviews", "log-shipper", "istio-proxy");
    Container init = reviews.getSpec().getInitContainers().get(0);
    assertThat(init.getArgs())
        .containsSequence("-m", "REDIRECT")
        .containsSequence("-d", "15090,15021,15020");
    assertThat(init.getSecurityContext().getCapabilities().getAdd())
        .containsExactly("NET_ADMIN", "NET_RAW");
    Container proxy = reviews.getSpec().getContainers().get(2);
    assertThat(proxy.getSecurityContext().getRunAsUser()).isEqualTo(1337L);
    assertThat(proxy.getSecurityContext().getRunAsGroup()).isEqualTo(1337L);
    assertThat(proxy.getSecurityContext().getCapabilities().getAdd()).isNullOrEmpty();
    assertThat(proxy.getSecurityContext().getCapabilities().getDrop()).containsExactly("ALL");
    // One JVM, the agent hosting the proxy, with the sidecar's flags: C2 on, a small heap.
    assertThat(proxy.getCommand())
        .startsWith("java", "-XX:+UseSerialGC")
        .contains("-Xmx64m", "-XX:+ExitOnOutOfMemoryError")
        .doesNotContain("-XX:TieredStopAtLevel=1")
        .endsWith("-jar", "/usr/local/lib/mesh/mesh-agent.jar");
    assertThat(proxy.getArgs()).containsExactly("proxy", "sidecar");
    assertThat(proxy.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
    assertThat(proxy.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15021);
    Map<String, EnvVar> env = env(proxy);
    assertThat(env.get("POD_NAME").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("metadata.name");
    assertThat(env.get("INSTANCE_IP").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("status.podIP");
    assertThat(env.get("ISTIO_META_WORKLOAD_NAME").getValue()).isEqualTo("reviews-v1");
    assertThat(env.get("ISTIO_META_OWNER").getValue())
        .isEqualTo("kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v1");
    assertThat(env.get("ISTIO_META_APP_CONTAINERS").getValue()).isEqualTo("reviews,log-shipper");
    assertThat(
            JSON.readTree(env.get("PROXY_CONFIG").getValue()).path("discoveryAddress").asString())
        .isEqualTo("mesh-pilot.mesh-system.svc:15012");

    // The app's probes go to the agent, which keeps the originals (named port resolved).
    Container app = reviews.getSpec().getContainers().get(0);
    assertThat(app.getLivenessProbe().getHttpGet().getPath())
        .isEqualTo("/app-health/reviews/livez");
    assertThat(app.getLivenessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15020);
    assertThat(app.getLivenessProbe().getInitialDelaySeconds()).isEqualTo(5);
    assertThat(app.getReadinessProbe().getTcpSocket()).isNull();
    assertThat(app.getReadinessProbe().getHttpGet().getPath())
        .isEqualTo("/app-health/reviews/readyz");
    JsonNode probers = JSON.readTree(env.get("ISTIO_KUBE_APP_PROBERS").getValue());
    assertThat(probers.path("/app-health/reviews/livez").path("httpGet").path("port").asInt())
        .isEqualTo(9080);
    assertThat(probers.path("/app-health/reviews/livez").path("timeoutSeconds").asInt())
        .isEqualTo(2);
    assertThat(probers.path("/app-health/reviews/readyz").path("tcpSocket").path("port").asInt())
        .isEqualTo(9080);

    // Prometheus scrapes the agent, which reads the app's own target.
    Map<String, String> annotations = reviews.getMetadata().getAnnotations();
    assertThat(annotations)
        .containsEntry("prometheus.io/port", "15020")
        .containsEntry("prometheus.io/path", "/stats/prometheus")
        .containsEntry("kubectl.kubernetes.io/default-container", "reviews");
    assertThat(
            JSON.readTree(env.get("ISTIO_PROMETHEUS_ANNOTATIONS").getValue())
                .path("port")
                .asString())
        .isEqualTo("9102");
    assertThat(
            JSON.readTree(annotations.get("sidecar.istio.io/status"))
                .path("containers")
                .get(0)
                .asString())
        .isEqualTo("istio-proxy");
    assertThat(reviews.getMetadata().getLabels())
        .containsEntry("security.istio.io/tlsMode", "istio")
        .containsEntry("service.istio.io/canonical-name", "reviews")
        .containsEntry("service.istio.io/canonical-revision", "v1");
    // Istio's volumes and mounts (its testdata/inject/*.yaml.injected), in its order.
    List<String> istioVolumes =
        List.of(
            "workload-socket",
            "credential-socket",
            "workload-certs",
            "istio-envoy",
            "istio-data",
            "istio-podinfo",
            "istio-token",
            "istiod-ca-cert");
    assertThat(reviews.getSpec().getVolumes())
        .extracting(v -> v.getName())
        .containsSubsequence(istioVolumes);
    assertThat(
            JSON.readTree(annotations.get("sidecar.istio.io/status"))
                .path("volumes")
                .valueStream()
                .map(JsonNode::asString))
        .containsExactlyElementsOf(istioVolumes);
    Map<String, io.fabric8.kubernetes.api.model.Volume> volumes =
        reviews.getSpec().getVolumes().stream().collect(Collectors.toMap(v -> v.getName(), v -> v));
    var token =
        volumes.get("istio-token").getProjected().getSources().get(0).getServiceAccountToken();
    assertThat(token.getAudience()).isEqualTo("istio-ca");
    assertThat(token.getExpirationSeconds()).isEqualTo(43200L);
    assertThat(token.getPath()).isEqualTo("istio-token");
    assertThat(volumes.get("istiod-ca-cert").getConfigMap().getName())
        .isEqualTo("istio-ca-root-cert");
    // In a cluster the pod waits for the root, as Istio's does.
    assertThat(volumes.get("istiod-ca-cert").getConfigMap().getOptional()).isNull();
    assertThat(volumes.get("workload-socket").getEmptyDir()).isNotNull();
    assertThat(
            proxy.getVolumeMounts().stream()
                .collect(Collectors.toMap(m -> m.getName(), m -> m.getMountPath())))
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "workload-socket", "/var/run/secrets/workload-spiffe-uds",
                "credential-socket", "/var/run/secrets/credential-uds",
                "workload-certs", "/var/run/secrets/workload-spiffe-credentials",
                "istiod-ca-cert", "/var/run/secrets/istio",
                "istio-data", "/var/lib/istio/data",
                "istio-envoy", "/etc/istio/proxy",
                "istio-token", "/var/run/secrets/tokens",
                "istio-podinfo", "/etc/istio/pod"));
    assertThat(env.get("CA_ADDR").getValue()).isEqualTo("mesh-pilot.mesh-system.svc:15012");

    StatefulSet db = only(objects, StatefulSet.class, "ratings-db");
    assertThat(
            env(db.getSpec().getTemplate().getSpec().getContainers().get(1))
                .get("ISTIO_META_OWNER")
                .getValue())
        .isEqualTo("kubernetes://apis/apps/v1/namespaces/data/statefulsets/ratings-db");
    // holdApplicationUntilProxyStarts: the proxy first, the app held by `mesh-agent wait`.
    Container first =
        only(objects, Job.class, "migrate")
            .getSpec()
            .getTemplate()
            .getSpec()
            .getContainers()
            .get(0);
    assertThat(first.getName()).isEqualTo("istio-proxy");
    assertThat(first.getLifecycle().getPostStart().getExec().getCommand()).endsWith("wait");
    // ProxyConfig's proxyMetadata becomes the sidecar's environment, as in Istio.
    assertThat(env(first).get("ISTIO_META_DNS_CAPTURE").getValue()).isEqualTo("true");
    assertThat(
            only(objects, CronJob.class, "report")
                .getSpec()
                .getJobTemplate()
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers())
        .extracting(Container::getName)
        .containsExactly("report", "istio-proxy");
    assertThat(
            only(objects, Deployment.class, "legacy")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers())
        .extracting(Container::getName)
        .containsExactly("legacy");

    // Documents that are not workloads, and the opted-out one, are the same bytes.
    List<String> before = KubeInject.split(original);
    List<String> after = KubeInject.split(injected);
    assertThat(after).hasSameSizeAs(before);
    for (int i : new int[] {0, 2, 6}) {
      assertThat(after.get(i)).as("document %d", i + 1).isEqualTo(before.get(i));
    }
  }

  /**
   * Istio's traffic-annotations-bad-*.yaml (pkg/kube/inject/testdata/inject): a Deployment whose
   * traffic annotation is not a port list or CIDR list is refused, naming the annotation and the
   * value; the good forms, "*" included where Istio accepts it, are injected.
   */
  @Test
  void badTrafficAnnotationsAreRefusedNamingTheAnnotation() {
    String deployment =
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: traffic}
        spec:
          selector: {matchLabels: {app: traffic}}
          template:
            metadata:
              annotations: {traffic.sidecar.istio.io/%s: "%s"}
              labels: {app: traffic}
            spec:
              containers: [{name: traffic, image: traffic, ports: [{name: http, containerPort: 80}]}]
        """;
    String[][] bad = {
      {"excludeOutboundPorts", "bad"},
      {"excludeInboundPorts", "bad"},
      {"includeInboundPorts", "bad"},
      {"excludeOutboundIPRanges", "bad"},
      {"includeOutboundIPRanges", "127.0.0.1,bad"},
      {"excludeOutboundPorts", "80,70000"},
      {"includeOutboundIPRanges", "10.0.0.0/33"},
      {"excludeOutboundIPRanges", "example.com/32"},
    };
    for (String[] b : bad) {
      assertThatThrownBy(() -> KUBE_INJECT.inject(deployment.formatted(b[0], b[1])))
          .as("%s: %s", b[0], b[1])
          .hasMessageContaining(
              "invalid value '" + b[1] + "' for annotation 'traffic.sidecar.istio.io/" + b[0]);
    }
    String[][] good = {
      {"includeOutboundIPRanges", "*"},
      {"includeInboundPorts", "*"},
      {"excludeOutboundIPRanges", "10.0.0.0/8,fd00::/8"},
      {"excludeInboundPorts", "8080, 9090"},
    };
    for (String[] g : good) {
      assertThat(KUBE_INJECT.inject(deployment.formatted(g[0], g[1]))).contains("istio-proxy");
    }
  }

  /**
   * Istio's lifecycle probers (its testdata's hello-probes with lifecycle hooks): httpGet and
   * tcpSocket preStop and postStart hooks go to the agent's /app-lifecycle/ paths, the originals in
   * ISTIO_KUBE_APP_PROBERS with named ports resolved; an exec hook stays as it is.
   */
  @Test
  void lifecycleHooksGoThroughTheAgentAsIstiosProbers() {
    String out =
        KUBE_INJECT.inject(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: hello}
            spec:
              containers:
              - name: hello
                image: hello
                ports: [{name: http, containerPort: 80}]
                lifecycle:
                  preStop: {httpGet: {path: /drain, port: http}}
                  postStart: {tcpSocket: {port: 81}}
              - name: side
                image: side
                lifecycle:
                  preStop: {exec: {command: [sleep, "5"]}}
            """);
    var pod = (io.fabric8.kubernetes.api.model.Pod) Serialization.unmarshal(out);
    Container hello = pod.getSpec().getContainers().get(0);
    assertThat(hello.getLifecycle().getPreStop().getHttpGet().getPath())
        .isEqualTo("/app-lifecycle/hello/prestopz");
    assertThat(hello.getLifecycle().getPreStop().getHttpGet().getPort().getIntVal())
        .isEqualTo(15020);
    assertThat(hello.getLifecycle().getPostStart().getHttpGet().getPath())
        .isEqualTo("/app-lifecycle/hello/poststartz");
    assertThat(hello.getLifecycle().getPostStart().getTcpSocket()).isNull();
    assertThat(pod.getSpec().getContainers().get(1).getLifecycle().getPreStop().getExec())
        .isNotNull();
    Container proxy =
        pod.getSpec().getContainers().stream()
            .filter(c -> c.getName().equals("istio-proxy"))
            .findFirst()
            .orElseThrow();
    JsonNode probers = JSON.readTree(env(proxy).get("ISTIO_KUBE_APP_PROBERS").getValue());
    assertThat(probers.path("/app-lifecycle/hello/prestopz").path("httpGet").path("port").asInt())
        .isEqualTo(80);
    assertThat(
            probers.path("/app-lifecycle/hello/poststartz").path("tcpSocket").path("port").asInt())
        .isEqualTo(81);
  }

  /** Istio's native-sidecar inputs: a native sidecar's own probes go through the agent too. */
  @Test
  void theProbesOfTheAppsNativeSidecarsGoThroughTheAgent() {
    String out =
        KUBE_INJECT.inject(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: hello}
            spec:
              initContainers:
              - name: setup
                image: setup
                readinessProbe: {httpGet: {path: /ready, port: 90}}
              - name: logs
                image: logs
                restartPolicy: Always
                readinessProbe: {httpGet: {path: /ready, port: 91}}
              containers:
              - {name: hello, image: hello}
            """);
    var pod = (io.fabric8.kubernetes.api.model.Pod) Serialization.unmarshal(out);
    var inits = pod.getSpec().getInitContainers();
    Container logs = inits.stream().filter(c -> c.getName().equals("logs")).findFirst().get();
    assertThat(logs.getReadinessProbe().getHttpGet().getPath())
        .isEqualTo("/app-health/logs/readyz");
    // A run-to-completion init container's probe is never run by the kubelet: left alone.
    Container setup = inits.stream().filter(c -> c.getName().equals("setup")).findFirst().get();
    assertThat(setup.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/ready");
  }

  /** Istio's pkg/kube/inject/testdata: a bare pod's OWNER is under apis/v1, as Istio writes it. */
  @Test
  void aBarePodsOwnerIsUnderApisAsIstioWritesIt() {
    JsonNode pod = JSON.readTree("{\"metadata\": {\"name\": \"hello\"}, \"spec\": {}}");
    assertThat(SidecarInjector.Workload.of(pod).owner("default"))
        .isEqualTo("kubernetes://apis/v1/namespaces/default/pods/hello");
  }

  @Test
  void injectingTwiceEqualsInjectingOnce() throws Exception {
    String once = KUBE_INJECT.inject(bookinfo());
    assertThat(KUBE_INJECT.inject(once)).isEqualTo(once);
  }

  @Test
  void aListsItemsAreInjectedAndBadInputIsNamed() {
    String list =
        """
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Pod
          metadata: {name: p, namespace: shop}
          spec:
            containers: [{name: app, image: app:1}]
        """;
    String out = KUBE_INJECT.inject(list);
    assertThat(out).contains("name: \"istio-proxy\"").contains("name: \"istio-init\"");
    assertThatThrownBy(() -> KUBE_INJECT.inject("kind: Pod\nmetadata: {name: x\n"))
        .hasMessageContaining("document 1 is not valid YAML");
    assertThatThrownBy(
            () ->
                KUBE_INJECT.inject(
                    """
                    kind: Pod
                    metadata:
                      name: x
                      annotations: {sidecar.istio.io/interceptionMode: SIDEWAYS}
                    spec: {containers: [{name: a, image: a}]}
                    """))
        .hasMessageContaining("document 1 (Pod x)")
        .hasMessageContaining("sidecar.istio.io/interceptionMode must be REDIRECT or TPROXY");
  }

  @Test
  void withPilotOnAUnixSocketThereIsNoCaToWaitFor() throws Exception {
    InjectionSettings local =
        SETTINGS.withMeshConfig("defaultConfig:\n  discoveryAddress: \"unix:///tmp/pilot.sock\"\n");
    KubeInject inject =
        new KubeInject(new SidecarInjector(SidecarTemplate.builtIn(), local), local);
    PodTemplateSpec reviews =
        only(Serialization.unmarshal(inject.inject(bookinfo())), Deployment.class, "reviews-v1")
            .getSpec()
            .getTemplate();
    Container proxy =
        reviews.getSpec().getContainers().stream()
            .filter(c -> c.getName().equals("istio-proxy"))
            .findFirst()
            .orElseThrow();
    assertThat(env(proxy)).doesNotContainKey("CA_ADDR");
    assertThat(
            reviews.getSpec().getVolumes().stream()
                .filter(v -> v.getName().equals("istiod-ca-cert"))
                .findFirst()
                .orElseThrow()
                .getConfigMap()
                .getOptional())
        .isTrue();
  }
}
