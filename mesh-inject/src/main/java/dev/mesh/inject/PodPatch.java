package dev.mesh.inject;

import io.fabric8.zjsonpatch.JsonDiff;
import tools.jackson.databind.JsonNode;

/** The JSON Patch (RFC 6902) that turns the pod as sent into the pod as injected. */
public final class PodPatch {
  private PodPatch() {}

  public static JsonNode between(JsonNode before, JsonNode after) {
    return JsonDiff.asJson(before, after);
  }
}
