package dev.mesh.config.schema;

import dev.mesh.config.IstioResources;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import tools.jackson.databind.JsonNode;

/**
 * The CRDs generated from this module's types (on the classpath under META-INF/fabric8), and the
 * schema each serves for a document's apiVersion and kind.
 */
public final class CrdSchemas {
  private CrdSchemas() {}

  /** The CRD resource names on the classpath, one per kind. */
  public static final List<String> CRD_FILES =
      List.of(
          "virtualservices.networking.istio.io-v1.yml",
          "destinationrules.networking.istio.io-v1.yml",
          "gateways.networking.istio.io-v1.yml",
          "serviceentries.networking.istio.io-v1.yml",
          "sidecars.networking.istio.io-v1.yml",
          "peerauthentications.security.istio.io-v1.yml",
          "authorizationpolicies.security.istio.io-v1.yml");

  /** The generated CustomResourceDefinitions, as documents. */
  public static List<JsonNode> crds() {
    return CRD_FILES.stream().map(CrdSchemas::load).toList();
  }

  /** The schema a CRD serves for the document's apiVersion and kind, if one does. */
  public static Optional<StructuralSchema> forDocument(JsonNode doc) {
    String apiVersion = doc.path("apiVersion").asString("");
    String kind = doc.path("kind").asString("");
    int slash = apiVersion.indexOf('/');
    if (slash < 0) {
      return Optional.empty();
    }
    String group = apiVersion.substring(0, slash);
    String version = apiVersion.substring(slash + 1);
    for (JsonNode crd : crds()) {
      JsonNode spec = crd.path("spec");
      if (!spec.path("group").asString("").equals(group)
          || !spec.path("names").path("kind").asString("").equals(kind)) {
        continue;
      }
      for (JsonNode v : spec.path("versions")) {
        if (v.path("name").asString("").equals(version) && v.path("served").asBoolean(false)) {
          return Optional.of(new StructuralSchema(v.path("schema").path("openAPIV3Schema")));
        }
      }
    }
    return Optional.empty();
  }

  private static JsonNode load(String file) {
    String resource = "/META-INF/fabric8/" + file;
    try (InputStream in = CrdSchemas.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(resource + " is not on the classpath: build mesh-config");
      }
      return IstioResources.readDocuments(new String(in.readAllBytes(), StandardCharsets.UTF_8))
          .get(0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
