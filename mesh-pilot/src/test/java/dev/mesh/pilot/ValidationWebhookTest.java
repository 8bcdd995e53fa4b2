package dev.mesh.pilot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.api.MockApi;
import dev.mesh.pilot.validation.ValidationServer;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Pilot's validating webhook as an API server uses it: install/mesh.yaml's
 * ValidatingWebhookConfiguration stored in the (mock) API, pilot putting its CA into it, and
 * AdmissionReviews POSTed over HTTPS trusting only that caBundle. An invalid VirtualService is
 * denied with the message naming the document and the field; a valid one, or something not Istio's,
 * is allowed.
 */
@EnableKubernetesMockClient(crud = true)
class ValidationWebhookTest {
  static KubernetesClient client;
  static io.fabric8.kubernetes.client.server.mock.KubernetesMockServer server;
  static ConfigurableApplicationContext pilot;
  static HttpClient https;
  static URI url;
  static final JsonMapper JSON = JsonMapper.builder().build();

  @BeforeAll
  static void start() throws Exception {
    String mesh = Files.readString(Path.of("..", "install", "mesh.yaml"));
    for (HasMetadata o : client.load(new ByteArrayInputStream(mesh.getBytes())).items()) {
      if (o instanceof ValidatingWebhookConfiguration) {
        client.resource(o).create();
      }
    }
    MockApi.use(client.getMasterUrl().toString());
    pilot =
        SpringApplication.run(
            PilotApplication.class,
            "--server.port=0",
            "--spring.grpc.server.port=0",
            "--validation-port=0");
    int port = pilot.getBean(ValidationServer.class).port();
    url = URI.create("https://localhost:" + port + "/validate");
    String bundle = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while ((bundle == null || bundle.isBlank()) && System.nanoTime() < deadline) {
      bundle =
          client
              .admissionRegistration()
              .v1()
              .validatingWebhookConfigurations()
              .withName(ValidationServer.CONFIGURATION)
              .get()
              .getWebhooks()
              .get(0)
              .getClientConfig()
              .getCaBundle();
      if (bundle == null || bundle.isBlank()) {
        Thread.sleep(50); // poll interval
      }
    }
    assertThat(bundle).as("caBundle patched by pilot").isNotBlank();
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
  }

  @AfterAll
  static void stop() {
    if (pilot != null) {
      pilot.close();
    }
    MockApi.forget();
    dev.mesh.local.api.ApiUsage.record(server, ValidationWebhookTest.class);
  }

  private static HttpResponse<String> post(String body) throws Exception {
    return https.send(
        HttpRequest.newBuilder(url)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode review(String object) throws Exception {
    HttpResponse<String> r =
        post(
            """
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
             "request": {"uid": "u-1", "namespace": "bookinfo", "operation": "CREATE",
                         "kind": {"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"},
                         "object": %s}}
            """
                .formatted(object));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode response = JSON.readTree(r.body()).path("response");
    assertThat(response.path("uid").asString()).isEqualTo("u-1");
    return response;
  }

  private static String virtualService(int v1, int v3) {
    return """
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "reviews"},
         "spec": {"hosts": ["reviews"], "http": [{"route": [
           {"destination": {"host": "reviews", "subset": "v1"}, "weight": %d},
           {"destination": {"host": "reviews", "subset": "v3"}, "weight": %d}]}]}}
        """
        .formatted(v1, v3);
  }

  @Test
  void anInvalidVirtualServiceIsDeniedNamingTheField() throws Exception {
    JsonNode response = review(virtualService(80, 30));
    assertThat(response.path("allowed").asBoolean()).isFalse();
    assertThat(response.path("status").path("message").asString())
        .startsWith("configuration is invalid: ")
        .contains("VirtualService bookinfo/reviews")
        .contains("spec.http[0].route")
        .contains("110");
  }

  @Test
  void aValidOneIsAllowed() throws Exception {
    assertThat(review(virtualService(70, 30)).path("allowed").asBoolean()).isTrue();
  }

  @Test
  void whatIsNotIstiosIsAllowedAndWhatIsNotAReviewIsRefused() throws Exception {
    assertThat(
            review(
                    "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\"}}")
                .path("allowed")
                .asBoolean())
        .isTrue();
    HttpResponse<String> r = post("{\"kind\": \"Pod\"}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.body()).contains("AdmissionReview");
  }

  @Test
  void invalidSecurityPoliciesAreDeniedWithIstiosMessages() throws Exception {
    JsonNode pa =
        review(
            """
            {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
             "metadata": {"name": "default"},
             "spec": {"mtls": {"mode": "STRICT"}, "portLevelMtls": {"9080": {"mode": "DISABLE"}}}}
            """);
    assertThat(pa.path("allowed").asBoolean()).isFalse();
    assertThat(pa.path("status").path("message").asString())
        .contains("PeerAuthentication bookinfo/default")
        .contains(
            "spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS");
    JsonNode deny =
        review(
            """
            {"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
             "metadata": {"name": "deny-nothing"}, "spec": {"action": "DENY"}}
            """);
    assertThat(deny.path("allowed").asBoolean()).isFalse();
    assertThat(deny.path("status").path("message").asString())
        .contains("AuthorizationPolicy bookinfo/deny-nothing")
        .contains("spec.rules: DENY action without `rules` is meaningless");
    JsonNode ips =
        review(
            """
            {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
             "metadata": {"name": "bad-ip"},
             "spec": {"rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.0/40"]}}],
                                 "when": [{"key": "source.nowhere", "values": ["x"]}]}]}}
            """);
    assertThat(ips.path("allowed").asBoolean()).isFalse();
    assertThat(ips.path("status").path("message").asString())
        .contains("spec.rules[0].from[0].source.ipBlocks[0]")
        .contains("10.0.0.0/40")
        .contains("spec.rules[0].when[0].key: unknown attribute source.nowhere");
    JsonNode ok =
        review(
            """
            {"apiVersion": "security.istio.io/v1beta1", "kind": "AuthorizationPolicy",
             "metadata": {"name": "ok"},
             "spec": {"rules": [{"from": [{"source": {"namespaces": ["shop"]}}],
                                 "to": [{"operation": {"ports": ["9080"]}}]}]}}
            """);
    assertThat(ok.path("allowed").asBoolean()).as(ok.toString()).isTrue();
  }
}
