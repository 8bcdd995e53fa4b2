package dev.mesh.inject;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/** install/mesh.yaml's injection ConfigMap carries exactly this module's template. */
class InstallTemplateTest {
  @Test
  void theInjectionConfigMapHoldsTheTemplateByteForByte() throws Exception {
    ObjectMapper yaml = YAMLMapper.builder().build();
    String mesh = Files.readString(Path.of("..", "install", "mesh.yaml"));
    String inConfigMap = null;
    try (var docs = yaml.readValues(yaml.createParser(mesh), JsonNode.class)) {
      while (docs.hasNextValue()) {
        JsonNode d = docs.nextValue();
        if (d != null
            && d.path("kind").asString("").equals("ConfigMap")
            && d.path("metadata").path("name").asString("").equals("mesh-sidecar-injector")) {
          inConfigMap = d.path("data").path(SidecarTemplate.CONFIG_MAP_KEY).asString();
        }
      }
    }
    assertThat(inConfigMap)
        .as("install/mesh.yaml's mesh-sidecar-injector ConfigMap; run install/update-template.sh")
        .isEqualTo(SidecarTemplate.builtInText());
    // And the ConfigMap, read as the injector reads a mounted file, renders.
    assertThat(SidecarTemplate.fromFile(inConfigMap)).isNotNull();
  }
}
