package dev.mesh.inject;

import io.fabric8.zjsonpatch.DiffFlags;
import io.fabric8.zjsonpatch.JsonDiff;
import tools.jackson.databind.JsonNode;

/**
 * The JSON Patch (RFC 6902) that turns the pod as sent into the pod as injected, in add, remove and
 * replace operations only: a patch that reads as what was added, which every API server and tool
 * applies alike.
 */
public final class PodPatch {
  private PodPatch() {}

  public static JsonNode between(JsonNode before, JsonNode after) {
    return JsonDiff.asJson(before, after, DiffFlags.dontNormalizeOpIntoMoveAndCopy());
  }
}
