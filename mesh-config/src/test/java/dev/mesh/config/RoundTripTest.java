package dev.mesh.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

/**
 * Istio YAML shaped like Istio's docs reads and writes back unchanged: nothing dropped or added.
 */
class RoundTripTest {

  static Stream<Path> samples() {
    return Samples.files("samples");
  }

  @ParameterizedTest
  @MethodSource("samples")
  void parseThenSerializeGivesTheInput(Path file) {
    for (JsonNode doc : Samples.documents(file)) {
      CustomResource<?, ?> resource = IstioResources.fromTree(doc);
      JsonNode back = IstioResources.toTree(resource);
      assertThat(Samples.sameJson(doc, back))
          .as("%s %s:%nin:  %s%nout: %s", file.getFileName(), IstioResources.refOf(doc), doc, back)
          .isTrue();
    }
  }

  /** Pilot and meshctl read these types through fabric8's client: its serialization agrees. */
  @ParameterizedTest
  @MethodSource("samples")
  void fabric8sSerializationRoundTripsTheSameTypes(Path file) {
    KubernetesSerialization fabric8 = new KubernetesSerialization();
    for (JsonNode doc : Samples.documents(file)) {
      Class<? extends CustomResource<?, ?>> type = IstioResources.kindOf(doc).orElseThrow().type();
      Object resource = fabric8.unmarshal(doc.toString(), type);
      JsonNode back = IstioResources.readDocuments(fabric8.asJson(resource)).get(0);
      assertThat(Samples.sameJson(doc, back))
          .as("%s %s:%nin:  %s%nout: %s", file.getFileName(), IstioResources.refOf(doc), doc, back)
          .isTrue();
    }
  }
}
