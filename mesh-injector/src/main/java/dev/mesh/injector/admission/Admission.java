package dev.mesh.injector.admission;

import dev.mesh.inject.InjectionSettings;
import dev.mesh.inject.PodPatch;
import dev.mesh.inject.Selection;
import dev.mesh.inject.SidecarInjector;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.logging.Logger;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * One AdmissionReview (admission.k8s.io/v1) in, its answer out. A body that is not an
 * AdmissionReview is refused (400, with the reason); a request the webhook should not have been
 * sent (not a Pod, no object, an object that is not a pod) is allowed unchanged, with a warning; a
 * pod that gets a sidecar is allowed with a JSON Patch.
 */
public final class Admission {
  private static final Logger LOG = Logger.getLogger(Admission.class.getName());
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  /** The webhook's answer: the HTTP status and the body. */
  public record Answer(int status, String body) {}

  private final SidecarInjector injector;
  private final InjectionSettings settings;
  private final Function<String, Optional<Map<String, String>>> namespaceLabels;

  /**
   * @param namespaceLabels a namespace's labels, or empty when they are not known (the API server's
   *     namespaceSelector, which sent the review, then stands)
   */
  public Admission(
      SidecarInjector injector,
      InjectionSettings settings,
      Function<String, Optional<Map<String, String>>> namespaceLabels) {
    this.injector = injector;
    this.settings = settings;
    this.namespaceLabels = namespaceLabels;
  }

  public Answer review(String body) {
    JsonNode review;
    try {
      review = JSON.readTree(body);
    } catch (JacksonException e) {
      return refused("the body is not JSON: " + e.getOriginalMessage());
    }
    if (!review.path("kind").asString("").equals("AdmissionReview")) {
      return refused(
          "the body is not an AdmissionReview (kind is '"
              + review.path("kind").asString("")
              + "')");
    }
    if (!review.path("apiVersion").asString("").equals("admission.k8s.io/v1")) {
      return refused(
          "apiVersion must be admission.k8s.io/v1, got '"
              + review.path("apiVersion").asString("")
              + "'");
    }
    JsonNode request = review.path("request");
    String uid = request.path("uid").asString("");
    if (!request.isObject() || uid.isEmpty()) {
      return refused("the AdmissionReview has no request.uid");
    }
    String kind = request.path("kind").path("kind").asString("");
    String namespace = request.path("namespace").asString("default");
    if (!kind.equals("Pod")) {
      return allowed(
          uid, null, "mesh-injector: request.kind is " + kind + ", not Pod: left unchanged");
    }
    JsonNode pod = request.path("object");
    if (!pod.isObject()) {
      return allowed(uid, null, "mesh-injector: request.object is missing: left unchanged");
    }
    if (!pod.path("spec").path("containers").isArray()) {
      return allowed(
          uid,
          null,
          "mesh-injector: request.object is not a pod (no spec.containers): left unchanged");
    }
    String name =
        pod.path("metadata")
            .path("name")
            .asString(pod.path("metadata").path("generateName").asString(""));
    Optional<Map<String, String>> labels = namespaceLabels.apply(namespace);
    Selection.Decision decision =
        Selection.decide(
            pod, namespace, labels.orElse(Map.of("istio-injection", "enabled")), settings);
    String known =
        labels.isPresent()
            ? ""
            : "; the namespace's labels are not in the injector's cache, so the webhook's"
                + " namespaceSelector stands";
    if (!decision.inject()) {
      LOG.info(
          "pod " + namespace + "/" + name + ": not injected (" + decision.reason() + known + ")");
      return allowed(uid, null, null);
    }
    try {
      ObjectNode injected = injector.inject(pod, namespace, SidecarInjector.Workload.of(pod));
      JsonNode patch = PodPatch.between(pod, injected);
      LOG.info("pod " + namespace + "/" + name + ": injected (" + decision.reason() + known + ")");
      return allowed(uid, patch, null);
    } catch (IllegalArgumentException e) {
      // As Istio's webhook: a pod whose annotations cannot be injected is denied with the reason
      // (the API server shows it as "admission webhook ... denied the request: <reason>"), not
      // admitted without its sidecar, which would run it outside the mesh unnoticed.
      LOG.warning("pod " + namespace + "/" + name + ": denied: " + e.getMessage());
      return denied(uid, e.getMessage());
    }
  }

  private static Answer denied(String uid, String message) {
    ObjectNode out = JSON.createObjectNode();
    out.put("apiVersion", "admission.k8s.io/v1");
    out.put("kind", "AdmissionReview");
    ObjectNode response = out.putObject("response");
    response.put("uid", uid);
    response.put("allowed", false);
    ObjectNode status = response.putObject("status");
    status.put("code", 400);
    status.put("message", message);
    return new Answer(200, JSON.writeValueAsString(out));
  }

  private static Answer allowed(String uid, JsonNode patch, String warning) {
    ObjectNode out = JSON.createObjectNode();
    out.put("apiVersion", "admission.k8s.io/v1");
    out.put("kind", "AdmissionReview");
    ObjectNode response = out.putObject("response");
    response.put("uid", uid);
    response.put("allowed", true);
    if (patch != null) {
      response.put("patchType", "JSONPatch");
      response.put(
          "patch",
          Base64.getEncoder()
              .encodeToString(JSON.writeValueAsString(patch).getBytes(StandardCharsets.UTF_8)));
    }
    if (warning != null) {
      response.putArray("warnings").add(warning);
    }
    return new Answer(200, JSON.writeValueAsString(out));
  }

  private static Answer refused(String reason) {
    return new Answer(400, reason + "\n");
  }
}
