package dev.mesh.local.cluster;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.http.MockResponse;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/** The embedded API server's own answers, shaped as kube-apiserver's. */
final class ApiResponses {
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  private ApiResponses() {}

  /** A Kubernetes Status, as the API server answers a refused request. */
  static MockResponse status(int code, String reason, String message) {
    ObjectNode s = JSON.createObjectNode();
    s.put("kind", "Status");
    s.put("apiVersion", "v1");
    s.putObject("metadata");
    s.put("status", "Failure");
    s.put("message", message);
    s.put("reason", reason);
    s.put("code", code);
    return new MockResponse()
        .setResponseCode(code)
        .setHeader("Content-Type", "application/json")
        .setBody(JSON.writeValueAsString(s));
  }

  /** An object the API server made or computed (a TokenRequest, a TokenReview). */
  static MockResponse created(Object object) {
    return new MockResponse()
        .setResponseCode(201)
        .setHeader("Content-Type", "application/json")
        .setBody(Serialization.asJson(object));
  }
}
