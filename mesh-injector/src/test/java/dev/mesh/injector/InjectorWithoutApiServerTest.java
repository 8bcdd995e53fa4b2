package dev.mesh.injector;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.api.MockApi;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;

/**
 * With no API server to reach, the injector still answers every review, from what it knows: the
 * pod's own labels and annotations, and for its namespace the webhook's namespaceSelector, which
 * the API server applied before sending it (the API server waits at most 10 s for a webhook whose
 * failurePolicy is Fail: a review that waits for an API call would refuse the pod).
 */
class InjectorWithoutApiServerTest {
  static ConfigurableApplicationContext injector;
  static HttpClient https;
  static URI url;

  @BeforeAll
  static void start() throws Exception {
    MockApi.none();
    injector = InjectorApplication.run("--server.port=0");
    int port = ((WebServerApplicationContext) injector).getWebServer().getPort();
    url = URI.create("https://localhost:" + port + "/inject");
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    trust.setCertificateEntry(
        "ca",
        CertificateFactory.getInstance("X.509")
            .generateCertificate(
                new ByteArrayInputStream(
                    InjectorApplication.caBundle()
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII))));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    https = HttpClient.newBuilder().sslContext(ssl).build();
  }

  @AfterAll
  static void stop() {
    if (injector != null) {
      injector.close();
    }
    MockApi.forget();
  }

  private static JsonNode answer(String label) throws Exception {
    JsonNode pod =
        InjectorWebhookTest.pod(
            InjectorWebhookTest.APP.formatted(
                label.isEmpty() ? "" : ", sidecar.istio.io/inject: \"" + label + "\"", "", false));
    HttpResponse<String> r =
        https.send(
            HttpRequest.newBuilder(url)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(InjectorWebhookTest.review("shop", pod)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return InjectorWebhookTest.JSON.readTree(r.body()).path("response");
  }

  @Test
  void aPodTheSelectorsSentIsInjected() throws Exception {
    JsonNode response = answer("");
    assertThat(response.path("allowed").asBoolean()).isTrue();
    assertThat(response.has("patch")).isTrue();
  }

  @Test
  void aPodThatOptsOutStaysOutWhateverTheNamespace() throws Exception {
    JsonNode response = answer("false");
    assertThat(response.path("allowed").asBoolean()).isTrue();
    assertThat(response.has("patch")).isFalse();
  }
}
