package dev.mesh.pilot.validation;

import dev.mesh.config.InvalidConfigException;
import dev.mesh.config.IstioResources;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Istio's config validation as an admission webhook: an AdmissionReview (v1) of an Istio resource
 * in, allowed or denied with mesh-config's message naming the document and the field, as istiod's
 * {@code validation.istio.io} answers ({@code configuration is invalid: ...}). A body that is not
 * an AdmissionReview is refused with 400; a review of something not Istio's, or a deletion, is
 * allowed.
 */
public final class ValidationReview {
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  private ValidationReview() {}

  /** The webhook's answer: the HTTP status and the body. */
  public record Answer(int status, String body) {}

  public static Answer review(String body) {
    JsonNode review;
    try {
      review = JSON.readTree(body);
    } catch (JacksonException e) {
      return new Answer(400, "the body is not JSON: " + e.getOriginalMessage() + "\n");
    }
    if (!review.path("kind").asString("").equals("AdmissionReview")
        || !review.path("apiVersion").asString("").equals("admission.k8s.io/v1")) {
      return new Answer(400, "the body is not an admission.k8s.io/v1 AdmissionReview\n");
    }
    JsonNode request = review.path("request");
    String uid = request.path("uid").asString("");
    if (uid.isEmpty()) {
      return new Answer(400, "the AdmissionReview has no request.uid\n");
    }
    JsonNode object = request.path("object");
    String operation = request.path("operation").asString("");
    if (!object.isObject() || operation.equals("DELETE")) {
      return allowed(uid);
    }
    ObjectNode doc = (ObjectNode) object.deepCopy();
    String namespace = request.path("namespace").asString("");
    if (!namespace.isEmpty() && doc.path("metadata").path("namespace").asString("").isEmpty()) {
      doc.withObjectProperty("metadata").put("namespace", namespace);
    }
    if (IstioResources.kindOf(doc).isEmpty()) {
      return allowed(uid);
    }
    try {
      IstioResources.fromTree(doc);
      return allowed(uid);
    } catch (InvalidConfigException e) {
      return denied(uid, "configuration is invalid: " + e.getMessage().replace('\n', ';'));
    }
  }

  private static Answer allowed(String uid) {
    ObjectNode out = envelope(uid);
    out.withObjectProperty("response").put("allowed", true);
    return new Answer(200, JSON.writeValueAsString(out));
  }

  private static Answer denied(String uid, String message) {
    ObjectNode out = envelope(uid);
    ObjectNode response = out.withObjectProperty("response");
    response.put("allowed", false);
    response
        .putObject("status")
        .put("code", 400)
        .put("reason", "BadRequest")
        .put("message", message);
    return new Answer(200, JSON.writeValueAsString(out));
  }

  private static ObjectNode envelope(String uid) {
    ObjectNode out = JSON.createObjectNode();
    out.put("apiVersion", "admission.k8s.io/v1");
    out.put("kind", "AdmissionReview");
    out.putObject("response").put("uid", uid);
    return out;
  }
}
