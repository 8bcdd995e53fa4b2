package dev.mesh.config;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.mesh.config.validation.IstioValidator;
import io.fabric8.kubernetes.client.CustomResource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.MappingIterator;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.cfg.CoercionAction;
import tools.jackson.databind.cfg.CoercionInputShape;
import tools.jackson.databind.exc.InvalidFormatException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.type.LogicalType;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Reads, validates and writes Istio resources. Reading is strict, as Kubernetes' strict field
 * validation is: an unknown field, a value of the wrong type or an unknown enum value is an error
 * naming the document and the field. What is read writes back as it was read.
 */
public final class IstioResources {
  private IstioResources() {}

  private static final JsonMapper JSON = strict(JsonMapper.builder()).build();
  private static final YAMLMapper YAML = strict(YAMLMapper.builder()).build();

  private static <M extends ObjectMapper, B extends tools.jackson.databind.cfg.MapperBuilder<M, B>>
      B strict(B builder) {
    return builder
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .disable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY)
        .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
        .changeDefaultPropertyInclusion(
            incl -> incl.withValueInclusion(JsonInclude.Include.NON_NULL))
        .withCoercionConfig(
            LogicalType.Textual,
            c ->
                c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail));
  }

  /** The documents of a YAML stream (or one JSON document), empty documents left out. */
  public static List<JsonNode> readDocuments(String yamlOrJson) {
    List<JsonNode> docs = new ArrayList<>();
    try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(yamlOrJson)) {
      while (it.hasNextValue()) {
        JsonNode doc = it.nextValue();
        if (doc != null && !doc.isNull() && !doc.isMissingNode()) {
          docs.add(doc);
        }
      }
    } catch (JacksonException e) {
      throw new IllegalArgumentException("not valid YAML: " + e.getOriginalMessage(), e);
    }
    return docs;
  }

  /**
   * Every Istio resource of a YAML stream; documents of other kinds are left out. Throws {@link
   * InvalidConfigException} listing the errors of every document, so that a user fixes them all at
   * once.
   */
  public static List<CustomResource<?, ?>> parseAll(String yaml) {
    List<CustomResource<?, ?>> resources = new ArrayList<>();
    List<ConfigError> errors = new ArrayList<>();
    for (JsonNode doc : readDocuments(yaml)) {
      if (kindOf(doc).isEmpty()) {
        continue;
      }
      try {
        resources.add(fromTree(doc));
      } catch (InvalidConfigException e) {
        errors.addAll(e.errors());
      }
    }
    if (!errors.isEmpty()) {
      throw new InvalidConfigException(errors);
    }
    return resources;
  }

  /** Parses and validates the one document of a YAML or JSON text as the given type. */
  public static <T extends CustomResource<?, ?>> T parse(String yamlOrJson, Class<T> type) {
    List<JsonNode> docs = readDocuments(yamlOrJson);
    if (docs.size() != 1) {
      throw new IllegalArgumentException("expected one document, found " + docs.size());
    }
    CustomResource<?, ?> resource = fromTree(docs.get(0));
    if (!type.isInstance(resource)) {
      throw new IllegalArgumentException(
          "expected a " + type.getSimpleName() + ", found a " + resource.getKind());
    }
    return type.cast(resource);
  }

  /** The Istio kind of a document, by its apiVersion and kind. */
  public static Optional<IstioKind> kindOf(JsonNode doc) {
    return IstioKind.of(text(doc, "apiVersion"), text(doc, "kind"));
  }

  /** Turns one document into its resource and validates it; throws InvalidConfigException. */
  public static CustomResource<?, ?> fromTree(JsonNode doc) {
    String kindName = text(doc, "kind");
    String ref = refOf(doc);
    IstioKind kind =
        kindOf(doc)
            .orElseThrow(
                () ->
                    new InvalidConfigException(
                        List.of(
                            new ConfigError(
                                kindName == null ? "document" : kindName,
                                ref,
                                "apiVersion",
                                "'"
                                    + text(doc, "apiVersion")
                                    + "' is not an Istio API version this mesh serves"))));
    CustomResource<?, ?> resource;
    try {
      resource = JSON.treeToValue(doc, kind.type());
    } catch (JacksonException e) {
      throw new InvalidConfigException(
          List.of(new ConfigError(kind.kind(), ref, path(e), describe(e, doc))));
    }
    List<ConfigError> errors = IstioValidator.validate(kind, ref, resource);
    if (!errors.isEmpty()) {
      throw new InvalidConfigException(errors);
    }
    return resource;
  }

  /** The document's {@code namespace/name}; kubectl's default namespace when it names none. */
  public static String refOf(JsonNode doc) {
    JsonNode meta = doc.path("metadata");
    String ns = meta.path("namespace").asString("default");
    return (ns.isEmpty() ? "default" : ns) + "/" + meta.path("name").asString("");
  }

  public static JsonNode toTree(Object resource) {
    return JSON.valueToTree(resource);
  }

  public static String toJson(Object resource) {
    return JSON.writeValueAsString(resource);
  }

  public static String toYaml(Object resource) {
    return YAML.writeValueAsString(resource);
  }

  /** Reads a value of a plain type (MeshConfig, ProxyConfig) strictly from YAML or JSON. */
  public static <T> T readValue(String yamlOrJson, Class<T> type, String what) {
    JsonNode tree;
    try {
      tree = YAML.readTree(yamlOrJson);
    } catch (JacksonException e) {
      throw new IllegalArgumentException(what + ": not valid YAML: " + e.getOriginalMessage(), e);
    }
    try {
      return JSON.treeToValue(tree, type);
    } catch (JacksonException e) {
      String field = path(e);
      throw new IllegalArgumentException(
          what + ": " + (field.isEmpty() ? "" : field + ": ") + describe(e, tree), e);
    }
  }

  private static String text(JsonNode doc, String field) {
    JsonNode v = doc.get(field);
    return v == null || !v.isString() ? null : v.asString();
  }

  private static String path(JacksonException e) {
    StringBuilder b = new StringBuilder();
    for (JacksonException.Reference r : e.getPath()) {
      if (r.getIndex() >= 0) {
        b.append('[').append(r.getIndex()).append(']');
      } else if (r.getPropertyName() != null) {
        if (!b.isEmpty()) {
          b.append('.');
        }
        b.append(r.getPropertyName());
      }
    }
    return b.toString();
  }

  /** The value the error is about, found in the document by the error's path. */
  private static JsonNode valueAt(JsonNode root, JacksonException e) {
    JsonNode at = root;
    for (JacksonException.Reference r : e.getPath()) {
      at = r.getIndex() >= 0 ? at.path(r.getIndex()) : at.path(r.getPropertyName());
    }
    return at;
  }

  private static String describe(JacksonException e, JsonNode doc) {
    if (e instanceof UnrecognizedPropertyException u) {
      return "unknown field \"" + u.getPropertyName() + "\"";
    }
    if (e instanceof InvalidFormatException f && f.getTargetType() != null) {
      Class<?> target = f.getTargetType();
      if (target.isEnum()) {
        return "unknown value \""
            + f.getValue()
            + "\", must be one of "
            + Arrays.stream(target.getEnumConstants())
                .map(Object::toString)
                .collect(Collectors.joining(", "));
      }
      return "expected " + typeName(target) + ", got \"" + f.getValue() + "\"";
    }
    if (e instanceof MismatchedInputException m && m.getTargetType() != null) {
      JsonNode value = valueAt(doc, e);
      return "expected "
          + typeName(m.getTargetType())
          + (value.isMissingNode() || value.isContainer() ? "" : ", got " + value);
    }
    return e.getOriginalMessage();
  }

  private static String typeName(Class<?> type) {
    if (type == Integer.class || type == Long.class || type == int.class || type == long.class) {
      return "an integer";
    }
    if (type == Double.class || type == double.class) {
      return "a number";
    }
    if (type == Boolean.class || type == boolean.class) {
      return "a boolean";
    }
    if (type == String.class) {
      return "a string";
    }
    if (java.util.List.class.isAssignableFrom(type)) {
      return "a list";
    }
    if (java.util.Map.class.isAssignableFrom(type)) {
      return "a map";
    }
    if (type.isEnum()) {
      return "one of "
          + Arrays.stream(type.getEnumConstants())
              .map(Object::toString)
              .collect(Collectors.joining(", "));
    }
    return "an object";
  }
}
