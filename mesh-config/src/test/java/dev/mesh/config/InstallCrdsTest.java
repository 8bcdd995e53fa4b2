package dev.mesh.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.config.schema.CrdSchemas;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** install/mesh.yaml carries exactly the CRDs generated from this module's types. */
class InstallCrdsTest {

  @Test
  void meshYamlHoldsTheGeneratedCrds() throws IOException {
    Path meshYaml = Path.of("..", "install", "mesh.yaml");
    List<JsonNode> installed =
        IstioResources.readDocuments(Files.readString(meshYaml)).stream()
            .filter(d -> d.path("kind").asString("").equals("CustomResourceDefinition"))
            .toList();
    List<JsonNode> generated = CrdSchemas.crds();
    assertThat(installed).hasSameSizeAs(generated);
    for (int i = 0; i < generated.size(); i++) {
      assertThat(Samples.sameJson(installed.get(i), generated.get(i)))
          .as(
              "install/mesh.yaml's %s differs from the types: run install/update-crds.sh",
              generated.get(i).path("metadata").path("name").asString())
          .isTrue();
    }
  }
}
