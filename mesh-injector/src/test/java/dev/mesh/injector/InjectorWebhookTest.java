package dev.mesh.injector;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.certs.CaBundlePatcher;
import dev.mesh.local.api.MockApi;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.zjsonpatch.JsonPatch;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Base64;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The webhook as an API server uses it: AdmissionReviews POSTed over HTTPS, trusting only the CA
 * the injector put into its MutatingWebhookConfiguration (on fabric8's mock API server, CRUD), the
 * returned JSON Patch applied to the pod with a JSON Patch implementation, the result checked.
 */
@EnableKubernetesMockClient(crud = true)
class InjectorWebhookTest {
  static final ObjectMapper JSON = JsonMapper.builder().build();
  static final ObjectMapper YAML = YAMLMapper.builder().build();
  static KubernetesClient client;
  static io.fabric8.kubernetes.client.server.mock.KubernetesMockServer server;
  static ConfigurableApplicationContext injector;
  static HttpClient https;
  static URI url;

  @BeforeAll
  static void start() throws Exception {
    for (var ns :
        Map.of(
                "shop", Map.of("istio-injection", "enabled"),
                "legacy", Map.of("istio-injection", "disabled"),
                "plain", Map.<String, String>of(),
                "revved", Map.of("istio.io/rev", "default"),
                "canary", Map.of("istio.io/rev", "canary"))
            .entrySet()) {
      client
          .namespaces()
          .resource(
              new NamespaceBuilder()
                  .withNewMetadata()
                  .withName(ns.getKey())
                  .withLabels(ns.getValue())
                  .endMetadata()
                  .build())
          .create();
    }
    client
        .admissionRegistration()
        .v1()
        .mutatingWebhookConfigurations()
        .resource(
            new MutatingWebhookConfigurationBuilder()
                .withNewMetadata()
                .withName(InjectorApplication.WEBHOOK_CONFIGURATION)
                .endMetadata()
                .addNewWebhook()
                .withName("sidecar-injector.mesh.dev")
                .withNewClientConfig()
                .withNewService()
                .withName("mesh-injector")
                .withNamespace("mesh-system")
                .withPath("/inject")
                .endService()
                .endClientConfig()
                .endWebhook()
                .build())
        .create();
    MockApi.use(client.getMasterUrl().toString());
    injector = InjectorApplication.run("--server.port=0");
    int port = ((WebServerApplicationContext) injector).getWebServer().getPort();
    url = URI.create("https://localhost:" + port + "/inject");

    // Trust exactly what the API server would: the caBundle the injector patches in (soon after
    // it starts, off its startup path).
    String bundle = null;
    long patchDeadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while ((bundle == null || bundle.isBlank()) && System.nanoTime() < patchDeadline) {
      MutatingWebhookConfiguration stored =
          client
              .admissionRegistration()
              .v1()
              .mutatingWebhookConfigurations()
              .withName(InjectorApplication.WEBHOOK_CONFIGURATION)
              .get();
      bundle = stored.getWebhooks().get(0).getClientConfig().getCaBundle();
      if (bundle == null || bundle.isBlank()) {
        Thread.sleep(50); // poll interval
      }
    }
    assertThat(bundle).as("caBundle patched by the injector").isNotBlank();
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    trust.setCertificateEntry(
        "ca",
        CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(Base64.getDecoder().decode(bundle))));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    https = HttpClient.newBuilder().sslContext(ssl).build();
    // The injector answers from its namespace cache, which fills once it has listed them: until
    // then a pod in an unlabelled namespace would go by the webhook's selectors alone.
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while (injected(admitted("plain", pod(APP.formatted("", "", false))))
        && System.nanoTime() < deadline) {
      Thread.sleep(50); // poll interval
    }
  }

  @AfterAll
  static void stop() {
    if (injector != null) {
      injector.close();
    }
    MockApi.forget();
    dev.mesh.local.api.ApiUsage.record(server, InjectorWebhookTest.class);
  }

  static HttpResponse<String> post(String body) throws Exception {
    return https.send(
        HttpRequest.newBuilder(url)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String review(String namespace, JsonNode pod) {
    ObjectNode r = JSON.createObjectNode();
    r.put("apiVersion", "admission.k8s.io/v1");
    r.put("kind", "AdmissionReview");
    ObjectNode request = r.putObject("request");
    request.put("uid", "e911857d-c318-11e8-bbad-025000000001");
    request.putObject("kind").put("group", "").put("version", "v1").put("kind", "Pod");
    request.put("namespace", namespace);
    request.put("operation", "CREATE");
    request.set("object", pod);
    return JSON.writeValueAsString(r);
  }

  /** The pod as the API server would store it after applying the webhook's answer. */
  static JsonNode admitted(String namespace, JsonNode pod) throws Exception {
    HttpResponse<String> r = post(review(namespace, pod));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode response = JSON.readTree(r.body()).path("response");
    assertThat(response.path("uid").asString()).isEqualTo("e911857d-c318-11e8-bbad-025000000001");
    assertThat(response.path("allowed").asBoolean()).isTrue();
    if (!response.has("patch")) {
      return pod;
    }
    assertThat(response.path("patchType").asString()).isEqualTo("JSONPatch");
    JsonNode patch = JSON.readTree(Base64.getDecoder().decode(response.path("patch").asString()));
    for (JsonNode op : patch) {
      assertThat(op.path("op").asString()).isIn("add", "remove", "replace");
    }
    return JsonPatch.apply(patch, pod);
  }

  static JsonNode pod(String yaml) {
    return YAML.readTree(yaml);
  }

  static final String APP =
      """
      metadata:
        generateName: reviews-v1-5d8f7c9b7-
        labels: {app: reviews, version: v1%s}
        annotations: {%s}
        ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: reviews-v1-5d8f7c9b7, uid: x}]
      spec:
        hostNetwork: %s
        containers:
        - name: reviews
          image: example/reviews:1
          ports: [{containerPort: 9080, name: http}]
          readinessProbe: {httpGet: {path: /ready, port: http}}
      """;

  static boolean injected(JsonNode pod) {
    for (JsonNode c : pod.path("spec").path("containers")) {
      if (c.path("name").asString().equals("istio-proxy")) {
        return true;
      }
    }
    return false;
  }

  @ParameterizedTest(
      name = "namespace {0}, pod label ''{1}'', annotation ''{2}'', hostNetwork {3} -> {4}")
  @CsvSource({
    "shop,        '',    '',    false, true",
    "shop,        false, '',    false, false",
    "shop,        '',    false, false, false",
    "shop,        '',    '',    true,  false",
    "legacy,      true,  '',    false, false",
    "plain,       '',    '',    false, false",
    "plain,       true,  '',    false, true",
    "plain,       '',    true,  false, true",
    "revved,      '',    '',    false, true",
    "canary,      '',    '',    false, false",
    "kube-system, true,  '',    false, false",
  })
  void theSelectionRulesDecideWhoGetsASidecar(
      String namespace, String label, String annotation, boolean hostNetwork, boolean expected)
      throws Exception {
    JsonNode pod =
        pod(
            APP.formatted(
                label.isEmpty() ? "" : ", sidecar.istio.io/inject: \"" + label + "\"",
                annotation.isEmpty() ? "" : "sidecar.istio.io/inject: \"" + annotation + "\"",
                hostNetwork));
    assertThat(injected(admitted(namespace, pod))).isEqualTo(expected);
  }

  @Test
  void aNamespaceLabelledAfterTheStartIsSeenThroughTheCache() throws Exception {
    client
        .namespaces()
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName("later")
                .withLabels(Map.of("istio-injection", "disabled"))
                .endMetadata()
                .build())
        .create();
    JsonNode pod = pod(APP.formatted("", "", false));
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while (injected(admitted("later", pod)) && System.nanoTime() < deadline) {
      Thread.sleep(50); // until the watch has brought the new namespace
    }
    assertThat(injected(admitted("later", pod))).isFalse();
    client
        .namespaces()
        .withName("later")
        .edit(
            n -> {
              n.getMetadata().getLabels().put("istio-injection", "enabled");
              return n;
            });
    deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    while (!injected(admitted("later", pod)) && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(injected(admitted("later", pod))).isTrue();
  }

  @Test
  void theInjectedPodCarriesTheSidecarAndWhatTheAnnotationsAsked() throws Exception {
    JsonNode pod =
        pod(
            APP.formatted(
                "",
                """
                sidecar.istio.io/proxyCPU: 300m, sidecar.istio.io/proxyMemoryLimit: 512Mi,
                traffic.sidecar.istio.io/excludeOutboundPorts: "5432",
                traffic.sidecar.istio.io/excludeInboundPorts: "9999",
                traffic.sidecar.istio.io/includeOutboundIPRanges: "10.96.0.0/12",
                prometheus.io/scrape: "true", prometheus.io/port: "9102"
                """,
                false));
    JsonNode out = admitted("shop", pod);
    JsonNode init = out.path("spec").path("initContainers").get(0);
    assertThat(init.path("name").asString()).isEqualTo("istio-init");
    assertThat(init.path("args").toString())
        .contains("\"-o\",\"5432\"")
        .contains("\"-d\",\"15090,15021,9999,15020\"")
        .contains("\"-i\",\"10.96.0.0/12\"");
    JsonNode proxy = out.path("spec").path("containers").get(1);
    assertThat(proxy.path("name").asString()).isEqualTo("istio-proxy");
    assertThat(proxy.path("resources").path("requests").path("cpu").asString()).isEqualTo("300m");
    assertThat(proxy.path("resources").path("limits").path("memory").asString()).isEqualTo("512Mi");
    assertThat(proxy.path("resources").path("requests").has("memory")).isFalse();
    assertThat(proxy.path("resources").path("limits").has("cpu")).isFalse();
    Map<String, JsonNode> env = new java.util.HashMap<>();
    proxy.path("env").forEach(e -> env.put(e.path("name").asString(), e));
    assertThat(env.get("ISTIO_META_WORKLOAD_NAME").path("value").asString())
        .isEqualTo("reviews-v1");
    assertThat(env.get("ISTIO_META_OWNER").path("value").asString())
        .isEqualTo("kubernetes://apis/apps/v1/namespaces/shop/deployments/reviews-v1");
    assertThat(
            env.get("POD_NAMESPACE")
                .path("valueFrom")
                .path("fieldRef")
                .path("fieldPath")
                .asString())
        .isEqualTo("metadata.namespace");
    assertThat(
            out.path("spec")
                .path("containers")
                .get(0)
                .path("readinessProbe")
                .path("httpGet")
                .path("port")
                .asInt())
        .isEqualTo(15020);
    assertThat(out.path("metadata").path("annotations").path("prometheus.io/port").asString())
        .isEqualTo("15020");
    assertThat(out.path("metadata").path("annotations").has("sidecar.istio.io/status")).isTrue();
    assertThat(
            out.path("metadata")
                .path("labels")
                .path("service.istio.io/canonical-revision")
                .asString())
        .isEqualTo("v1");

    // Sent again (already injected): allowed as it is.
    assertThat(admitted("shop", out)).isEqualTo(out);

    JsonNode tproxy =
        admitted(
            "shop",
            pod(
                APP.formatted(
                    "",
                    "sidecar.istio.io/interceptionMode: TPROXY, sidecar.istio.io/rewriteAppHTTPProbers: \"false\"",
                    false)));
    assertThat(tproxy.path("spec").path("initContainers").get(0).path("args").toString())
        .contains("\"TPROXY\"");
    assertThat(
            tproxy
                .path("spec")
                .path("containers")
                .get(0)
                .path("readinessProbe")
                .path("httpGet")
                .path("port")
                .asString())
        .isEqualTo("http");
    JsonNode nativeSidecar =
        admitted("shop", pod(APP.formatted("", "sidecar.istio.io/nativeSidecar: \"true\"", false)));
    assertThat(
            nativeSidecar
                .path("spec")
                .path("initContainers")
                .get(1)
                .path("restartPolicy")
                .asString())
        .isEqualTo("Always");
    JsonNode held =
        admitted(
            "shop",
            pod(
                APP.formatted(
                    "",
                    "proxy.istio.io/config: \"holdApplicationUntilProxyStarts: true\"",
                    false)));
    assertThat(held.path("spec").path("containers").get(0).path("name").asString())
        .isEqualTo("istio-proxy");
  }

  /** As Istio's webhook: a pod whose traffic annotation is invalid is denied with the reason. */
  @Test
  void aPodWithABadTrafficAnnotationIsDeniedNamingIt() throws Exception {
    JsonNode pod =
        pod(
            """
            metadata:
              name: traffic
              annotations: {traffic.sidecar.istio.io/excludeOutboundPorts: "bad"}
            spec: {containers: [{name: traffic, image: traffic}]}
            """);
    HttpResponse<String> r = post(review("shop", pod));
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode response = JSON.readTree(r.body()).path("response");
    assertThat(response.path("allowed").asBoolean()).isFalse();
    assertThat(response.path("status").path("message").asString())
        .contains("invalid value 'bad' for annotation")
        .contains("traffic.sidecar.istio.io/excludeOutboundPorts");
  }

  @Test
  void badInputGetsAClearAnswerAndNeverA500() throws Exception {
    HttpResponse<String> notJson = post("this is not json");
    assertThat(notJson.statusCode()).isEqualTo(400);
    assertThat(notJson.body()).contains("not JSON");
    HttpResponse<String> notReview = post("{\"kind\": \"Pod\"}");
    assertThat(notReview.statusCode()).isEqualTo(400);
    assertThat(notReview.body()).contains("not an AdmissionReview");
    assertThat(post("").statusCode()).isEqualTo(400);

    String service =
        review("shop", pod("metadata: {name: s}\nspec: {ports: [{port: 80}]}\n"))
            .replace("\"kind\":\"Pod\"", "\"kind\":\"Service\"");
    JsonNode answer = JSON.readTree(post(service).body()).path("response");
    assertThat(answer.path("allowed").asBoolean()).isTrue();
    assertThat(answer.has("patch")).isFalse();
    assertThat(answer.path("warnings").get(0).asString()).contains("not Pod");

    ObjectNode noObject = (ObjectNode) JSON.readTree(review("shop", pod("metadata: {name: p}\n")));
    ((ObjectNode) noObject.path("request")).remove("object");
    answer = JSON.readTree(post(JSON.writeValueAsString(noObject)).body()).path("response");
    assertThat(answer.path("allowed").asBoolean()).isTrue();
    assertThat(answer.path("warnings").get(0).asString()).contains("request.object is missing");

    ((ObjectNode) noObject.path("request")).put("object", "a string, not a pod");
    answer = JSON.readTree(post(JSON.writeValueAsString(noObject)).body()).path("response");
    assertThat(answer.path("allowed").asBoolean()).isTrue();
    assertThat(answer.path("warnings").get(0).asString()).contains("left unchanged");

    answer =
        JSON.readTree(
                post(review(
                        "shop",
                        pod(
                            APP.formatted(
                                "", "sidecar.istio.io/interceptionMode: SIDEWAYS", false))))
                    .body())
            .path("response");
    // Denied as Istio's webhook denies what it cannot inject, not admitted outside the mesh.
    assertThat(answer.path("allowed").asBoolean()).isFalse();
    assertThat(answer.path("status").path("message").asString())
        .contains("interceptionMode must be REDIRECT or TPROXY");
  }

  @Test
  void withoutAClusterTheCaBundleIsNotPatchedAndItSaysSo() {
    try (KubernetesClient nowhere =
        new KubernetesClientBuilder()
            .withConfig(
                new io.fabric8.kubernetes.client.ConfigBuilder()
                    .withMasterUrl("https://127.0.0.1:1")
                    .withRequestTimeout(2000)
                    .withConnectionTimeout(2000)
                    .withRequestRetryBackoffLimit(0)
                    .build())
            .build()) {
      assertThat(CaBundlePatcher.patch(nowhere, InjectorApplication.WEBHOOK_CONFIGURATION, "pem"))
          .isFalse();
    }
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
