package dev.mesh.config.schema;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;

/**
 * Validates a document against a CRD's openAPIV3Schema as the Kubernetes API server does with
 * strict field validation (kubectl's default): types, enums, required fields, and unknown fields,
 * which are errors rather than pruned. Supports what structural schemas allow: type, properties,
 * additionalProperties, items, enum, required, nullable, x-kubernetes-preserve-unknown-fields and
 * x-kubernetes-int-or-string. ObjectMeta is the API server's own and is not checked here.
 */
public final class StructuralSchema {
  private final JsonNode schema;

  public StructuralSchema(JsonNode openApiV3Schema) {
    this.schema = openApiV3Schema;
  }

  /** Each error is {@code path: message}, the path as Kubernetes prints it. */
  public List<String> validate(JsonNode document) {
    List<String> errors = new ArrayList<>();
    check(document, schema, "", errors, true);
    return errors;
  }

  private static void check(
      JsonNode value, JsonNode schema, String path, List<String> errors, boolean root) {
    if (value.isNull()) {
      if (!schema.path("nullable").asBoolean(false)) {
        errors.add(where(path) + "must not be null");
      }
      return;
    }
    if (schema.path("x-kubernetes-int-or-string").asBoolean(false)) {
      if (!value.isIntegralNumber() && !value.isString()) {
        errors.add(where(path) + "must be an integer or a string");
      }
      return;
    }
    String type = schema.path("type").asString("");
    if (!type.isEmpty() && !hasType(value, type)) {
      errors.add(where(path) + "must be of type " + type + ", got " + describe(value));
      return;
    }
    JsonNode allowed = schema.get("enum");
    if (allowed != null && !contains(allowed, value)) {
      errors.add(
          where(path) + "unsupported value " + value + ", supported values: " + join(allowed));
    }
    if (value.isArray()) {
      JsonNode items = schema.get("items");
      for (int i = 0; items != null && i < value.size(); i++) {
        check(value.get(i), items, path + "[" + i + "]", errors, false);
      }
    } else if (value.isObject()) {
      object(value, schema, path, errors, root);
    }
  }

  private static void object(
      JsonNode value, JsonNode schema, String path, List<String> errors, boolean root) {
    JsonNode required = schema.get("required");
    if (required != null) {
      for (JsonNode r : required) {
        if (!value.has(r.asString())) {
          errors.add(where(join(path, r.asString())) + "Required value");
        }
      }
    }
    JsonNode properties = schema.get("properties");
    JsonNode additional = schema.get("additionalProperties");
    boolean preserve = schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
    Set<String> rootFields = root ? Set.of("apiVersion", "kind", "metadata") : Set.of();
    Iterator<Map.Entry<String, JsonNode>> fields = value.properties().iterator();
    Set<String> seen = new HashSet<>();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> f = fields.next();
      seen.add(f.getKey());
      String at = join(path, f.getKey());
      if (properties != null && properties.has(f.getKey())) {
        check(f.getValue(), properties.get(f.getKey()), at, errors, false);
      } else if (additional != null && additional.isObject()) {
        check(f.getValue(), additional, at, errors, false);
      } else if (rootFields.contains(f.getKey())
          || preserve
          || additional != null && additional.asBoolean(false)) {
        continue;
      } else {
        errors.add("unknown field \"" + at + "\"");
      }
    }
  }

  private static boolean hasType(JsonNode v, String type) {
    return switch (type) {
      case "object" -> v.isObject();
      case "array" -> v.isArray();
      case "string" -> v.isString();
      case "integer" -> v.isIntegralNumber();
      case "number" -> v.isNumber();
      case "boolean" -> v.isBoolean();
      default -> true;
    };
  }

  private static boolean contains(JsonNode allowed, JsonNode value) {
    for (JsonNode a : allowed) {
      if (a.equals(value)) {
        return true;
      }
    }
    return false;
  }

  private static String join(JsonNode allowed) {
    List<String> out = new ArrayList<>();
    allowed.forEach(a -> out.add(a.toString()));
    return String.join(", ", out);
  }

  private static String describe(JsonNode v) {
    if (v.isString()) {
      return "string " + v;
    }
    if (v.isNumber()) {
      return "number " + v;
    }
    if (v.isBoolean()) {
      return "boolean " + v;
    }
    return v.isArray() ? "array" : "object";
  }

  private static String join(String path, String field) {
    return path.isEmpty() ? field : path + "." + field;
  }

  private static String where(String path) {
    return path.isEmpty() ? "" : path + ": ";
  }
}
