package dev.mesh.inject;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The injection template: YAML whose {@code {{name}}} placeholders are replaced by JSON values. One
 * file, {@value #RESOURCE} on the class path; install/mesh.yaml carries the same bytes.
 */
public final class SidecarTemplate {
  public static final String RESOURCE = "/dev/mesh/inject/sidecar-template.yaml";
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{([a-zA-Z]+)}}");
  private static final ObjectMapper JSON = JsonMapper.builder().build();
  private static final ObjectMapper YAML = YAMLMapper.builder().build();

  private final String text;

  public SidecarTemplate(String text) {
    this.text = text;
  }

  /**
   * A template from a file: the template itself, or the injection ConfigMap that carries it under
   * {@value #CONFIG_MAP_KEY}.
   */
  public static SidecarTemplate fromFile(String text) {
    if (text.contains("kind: ConfigMap")) {
      JsonNode root = YAML.readTree(text);
      String template = root.path("data").path(CONFIG_MAP_KEY).asString(null);
      if (template == null) {
        throw new IllegalArgumentException("the injection ConfigMap has no data." + CONFIG_MAP_KEY);
      }
      return new SidecarTemplate(template);
    }
    return new SidecarTemplate(text);
  }

  /** The key of the template in the injection ConfigMap of install/mesh.yaml. */
  public static final String CONFIG_MAP_KEY = "sidecar-template.yaml";

  /** The template this build ships. */
  public static SidecarTemplate builtIn() {
    return new SidecarTemplate(builtInText());
  }

  public static String builtInText() {
    try (InputStream in = SidecarTemplate.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is missing from the class path");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The rendered template; a placeholder without a value is an error naming it. */
  public ObjectNode render(Map<String, JsonNode> values) {
    Matcher m = PLACEHOLDER.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      JsonNode v = values.get(m.group(1));
      if (v == null) {
        throw new IllegalArgumentException(
            "the sidecar template uses {{" + m.group(1) + "}}, which has no value");
      }
      m.appendReplacement(out, Matcher.quoteReplacement(JSON.writeValueAsString(v)));
    }
    m.appendTail(out);
    JsonNode tree = YAML.readTree(out.toString());
    if (!(tree instanceof ObjectNode o)) {
      throw new IllegalArgumentException("the sidecar template is not a YAML mapping");
    }
    return o;
  }
}
