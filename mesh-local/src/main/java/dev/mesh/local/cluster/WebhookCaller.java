package dev.mesh.local.cluster;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.RuleWithOperations;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.WebhookClientConfig;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.zjsonpatch.JsonPatch;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The API server's part in creating a pod: every mutating webhook of the stored
 * MutatingWebhookConfigurations whose rules and selectors take the pod is called over HTTPS,
 * trusting only its caBundle, and its JSON Patch applied. A webhook that fails fails the pod's
 * creation under failurePolicy Fail and is skipped under Ignore, as the API server does.
 */
final class WebhookCaller {
  private static final Logger LOG = Logger.getLogger(WebhookCaller.class.getName());
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  private final KubernetesClient client;
  private final Function<String, URI> hostServices;

  WebhookCaller(KubernetesClient client, Function<String, URI> hostServices) {
    this.client = client;
    this.hostServices = hostServices;
  }

  Pod admit(Pod pod) {
    String ns = pod.getMetadata().getNamespace();
    Map<String, String> nsLabels = new HashMap<>();
    Namespace namespace = client.namespaces().withName(ns).get();
    if (namespace != null && namespace.getMetadata().getLabels() != null) {
      nsLabels.putAll(namespace.getMetadata().getLabels());
    }
    nsLabels.put("kubernetes.io/metadata.name", ns);
    Pod current = pod;
    for (MutatingWebhookConfiguration config :
        client.admissionRegistration().v1().mutatingWebhookConfigurations().list().getItems()) {
      for (MutatingWebhook hook : config.getWebhooks()) {
        Map<String, String> podLabels =
            current.getMetadata().getLabels() == null
                ? Map.of()
                : current.getMetadata().getLabels();
        if (!createsPods(hook)
            || !Labels.matches(hook.getNamespaceSelector(), nsLabels)
            || !Labels.matches(hook.getObjectSelector(), podLabels)) {
          continue;
        }
        try {
          current = call(hook, current);
        } catch (IOException | RuntimeException e) {
          if ("Ignore".equals(hook.getFailurePolicy())) {
            LOG.warning("webhook " + hook.getName() + " failed, ignored: " + e.getMessage());
          } else {
            throw new IllegalStateException(
                "pod "
                    + ns
                    + "/"
                    + pod.getMetadata().getName()
                    + ": webhook "
                    + hook.getName()
                    + " failed (failurePolicy Fail): "
                    + e.getMessage(),
                e);
          }
        }
      }
    }
    return current;
  }

  private static boolean createsPods(MutatingWebhook hook) {
    for (RuleWithOperations r : hook.getRules()) {
      if ((r.getOperations().contains("CREATE") || r.getOperations().contains("*"))
          && (r.getResources().contains("pods") || r.getResources().contains("*"))) {
        return true;
      }
    }
    return false;
  }

  private Pod call(MutatingWebhook hook, Pod pod) throws IOException {
    JsonNode object = JSON.readTree(Serialization.asJson(pod));
    ObjectNode review = JSON.createObjectNode();
    review.put("apiVersion", "admission.k8s.io/v1");
    review.put("kind", "AdmissionReview");
    ObjectNode request = review.putObject("request");
    request.put("uid", UUID.randomUUID().toString());
    request.putObject("kind").put("group", "").put("version", "v1").put("kind", "Pod");
    request.putObject("resource").put("group", "").put("version", "v1").put("resource", "pods");
    request.put("namespace", pod.getMetadata().getNamespace());
    request.put("operation", "CREATE");
    request.set("object", object);
    JsonNode response = send(hook.getClientConfig(), hook.getTimeoutSeconds(), review);
    if (!response.path("allowed").asBoolean(false)) {
      throw new IOException("denied: " + response.path("status").path("message").asString(""));
    }
    if (!response.has("patch")) {
      return pod;
    }
    JsonNode patch = JSON.readTree(Base64.getDecoder().decode(response.path("patch").asString()));
    return Serialization.unmarshal(
        JSON.writeValueAsString(JsonPatch.apply(patch, object)), Pod.class);
  }

  /**
   * POSTs an AdmissionReview to a webhook (its URL, or its Service through the host services),
   * trusting only its caBundle, within its timeout; returns the review's response.
   */
  JsonNode send(WebhookClientConfig cc, Integer timeoutSeconds, ObjectNode review)
      throws IOException {
    URI url;
    if (cc.getUrl() != null) {
      url = URI.create(cc.getUrl());
    } else {
      var svc = cc.getService();
      URI base = hostServices.apply(svc.getNamespace() + "/" + svc.getName());
      if (base == null) {
        throw new IOException(
            "service " + svc.getNamespace() + "/" + svc.getName() + " has no endpoint");
      }
      url = base.resolve(svc.getPath() == null ? "/" : svc.getPath());
    }
    HttpResponse<String> r;
    try {
      r =
          https(cc.getCaBundle())
              .send(
                  HttpRequest.newBuilder(url)
                      .timeout(Duration.ofSeconds(timeoutSeconds == null ? 10 : timeoutSeconds))
                      .header("Content-Type", "application/json")
                      .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(review)))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
    if (r.statusCode() != 200) {
      throw new IOException(url + " answered " + r.statusCode() + ": " + r.body());
    }
    return JSON.readTree(r.body()).path("response");
  }

  private static HttpClient https(String caBundle) throws IOException {
    try {
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      if (caBundle != null && !caBundle.isEmpty()) {
        int i = 0;
        for (var cert :
            CertificateFactory.getInstance("X.509")
                .generateCertificates(
                    new ByteArrayInputStream(Base64.getDecoder().decode(caBundle)))) {
          trust.setCertificateEntry("ca" + i++, cert);
        }
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, tmf.getTrustManagers(), null);
      return HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException("the webhook's caBundle is not usable: " + e.getMessage());
    }
  }
}
