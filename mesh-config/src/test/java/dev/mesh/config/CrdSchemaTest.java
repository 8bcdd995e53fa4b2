package dev.mesh.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.config.schema.CrdSchemas;
import dev.mesh.config.schema.StructuralSchema;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/** The generated CRDs accept what Istio accepts and refuse, naming the field, what it refuses. */
class CrdSchemaTest {

  static Stream<Path> samples() {
    return Samples.files("samples");
  }

  @ParameterizedTest
  @MethodSource("samples")
  void theSamplesValidateAgainstTheCrds(Path file) {
    for (JsonNode doc : Samples.documents(file)) {
      StructuralSchema schema = CrdSchemas.forDocument(doc).orElseThrow();
      assertThat(schema.validate(doc)).as(IstioResources.refOf(doc)).isEmpty();
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "wrong-type.yaml | spec.http[0].route[0].weight: must be of type integer, got string"
            + " \"eighty\"",
        "unknown-enum.yaml | spec.mtls.mode: unsupported value \"STRICTEST\"",
        "missing-required.yaml | spec.host: Required value",
        "unknown-field.yaml | unknown field \"spec.http[0].rout\"",
        "missing-destination-host.yaml | spec.http[0].route[0].destination.host: Required value"
      })
  void invalidDocumentsFailWithTheFieldNamed(String file, String expected) {
    JsonNode doc = Samples.documents(Samples.dir("invalid").resolve(file)).get(0);
    List<String> errors = CrdSchemas.forDocument(doc).orElseThrow().validate(doc);
    assertThat(errors).singleElement().asString().startsWith(expected);
  }

  @Test
  void everyKindIsServedAtIstiosVersions() {
    for (IstioKind kind : IstioKind.values()) {
      for (String version : kind.servedVersions()) {
        JsonNode doc =
            IstioResources.readDocuments(
                    "{\"apiVersion\":\"%s/%s\",\"kind\":\"%s\"}"
                        .formatted(kind.group(), version, kind.kind()))
                .get(0);
        assertThat(CrdSchemas.forDocument(doc)).as("%s %s", kind, version).isPresent();
      }
    }
  }
}
