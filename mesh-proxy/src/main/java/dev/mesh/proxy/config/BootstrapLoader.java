package dev.mesh.proxy.config;

import com.google.gson.Gson;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

/**
 * Reads an Envoy v3 bootstrap from YAML or JSON (JSON is YAML), as Envoy's {@code -c} and {@code
 * --config-yaml} do: the YAML given with {@code --config-yaml} is merged over the file's.
 */
public final class BootstrapLoader {
  private BootstrapLoader() {}

  private static final JsonFormat.Parser PARSER =
      JsonFormat.parser().usingTypeRegistry(EnvoyTypes.REGISTRY);

  public static Bootstrap load(Path file, String overlayYaml) {
    Bootstrap.Builder b = Bootstrap.newBuilder();
    if (file != null) {
      String text;
      try {
        text = Files.readString(file);
      } catch (IOException e) {
        throw new ConfigRejectedException("cannot read " + file + ": " + e.getMessage(), e);
      }
      merge(text, b, file.toString());
    }
    if (overlayYaml != null && !overlayYaml.isBlank()) {
      merge(overlayYaml, b, "--config-yaml");
    }
    return checked(b);
  }

  public static Bootstrap parse(String yamlOrJson) {
    Bootstrap.Builder b = Bootstrap.newBuilder();
    merge(yamlOrJson, b, "config");
    return checked(b);
  }

  /**
   * Envoy names a static listener that has no name itself (a generated id): its examples rely on
   * it. The config is then checked against the supported fields.
   */
  private static Bootstrap checked(Bootstrap.Builder b) {
    for (var l : b.getStaticResourcesBuilder().getListenersBuilderList()) {
      if (l.getName().isEmpty()) {
        l.setName(java.util.UUID.randomUUID().toString());
      }
    }
    Bootstrap bootstrap = b.build();
    SupportedFields.check(bootstrap);
    return bootstrap;
  }

  /** Envoy's YAML and proto3 JSON mean the same once YAML is turned into JSON text. */
  public static String yamlToJson(String yaml, String source) {
    return yamlToJson(yaml, source, null);
  }

  /** The same, with enum names put in their canonical case along the message type's schema. */
  static String yamlToJson(
      String yaml, String source, com.google.protobuf.Descriptors.Descriptor type) {
    Object tree;
    try {
      tree = new Yaml(new SafeConstructor(new LoaderOptions())).load(yaml);
    } catch (YAMLException e) {
      throw new ConfigRejectedException(source + ": not valid YAML: " + e.getMessage(), e);
    }
    if (tree == null) {
      return "{}";
    }
    if (type != null) {
      EnumNames.canonicalize(tree, type);
    }
    return new Gson().toJson(tree);
  }

  private static void merge(String yaml, Bootstrap.Builder into, String source) {
    try {
      PARSER.merge(yamlToJson(yaml, source, Bootstrap.getDescriptor()), into);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigRejectedException(source + ": " + e.getMessage(), e);
    }
  }
}
