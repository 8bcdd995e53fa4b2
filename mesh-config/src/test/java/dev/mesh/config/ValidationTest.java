package dev.mesh.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.mesh.config.networking.VirtualService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ValidationTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "wrong-type.yaml | VirtualService bookinfo/reviews: spec.http[0].route[0].weight:"
            + " expected an integer, got \"eighty\"",
        "unknown-enum.yaml | PeerAuthentication foo/default: spec.mtls.mode: unknown value"
            + " \"STRICTEST\", must be one of UNSET, DISABLE, PERMISSIVE, STRICT",
        "missing-required.yaml | DestinationRule bookinfo/reviews: spec.host: is required",
        "unknown-field.yaml | VirtualService bookinfo/reviews: spec.http[0].rout: unknown field"
            + " \"rout\"",
        "missing-destination-host.yaml | VirtualService bookinfo/reviews:"
            + " spec.http[0].route[0].destination.host: is required",
        "weights.yaml | VirtualService bookinfo/reviews: spec.http[0].route: total destination"
            + " weight 110 != 100",
        "bad-duration.yaml | VirtualService bookinfo/ratings: spec.http[0].timeout: '10 seconds'"
            + " is not a duration"
      })
  void anInvalidDocumentIsRefusedNamingDocumentAndField(String file, String expected) {
    InvalidConfigException e =
        catchThrowableOfType(
            InvalidConfigException.class,
            () -> IstioResources.parseAll(Samples.read("invalid", file)));
    assertThat(e).as("%s was accepted", file).isNotNull();
    assertThat(e.errors()).hasSize(1);
    assertThat(e.getMessage()).startsWith(expected);
  }

  @Test
  void everyErrorOfEveryDocumentIsReportedAtOnce() {
    String both =
        Samples.read("invalid", "weights.yaml")
            + "---\n"
            + Samples.read("invalid", "unknown-enum.yaml");
    InvalidConfigException e =
        catchThrowableOfType(InvalidConfigException.class, () -> IstioResources.parseAll(both));
    assertThat(e.errors())
        .extracting(ConfigError::kind, ConfigError::field)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("VirtualService", "spec.http[0].route"),
            org.assertj.core.groups.Tuple.tuple("PeerAuthentication", "spec.mtls.mode"));
  }

  @Test
  void documentsOfOtherKindsAreLeftOut() {
    String yaml =
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: reviews
        spec:
          ports:
          - port: 9080
        ---
        """
            + Samples.read("samples", "mirror.yaml");
    assertThat(IstioResources.parseAll(yaml)).singleElement().isInstanceOf(VirtualService.class);
  }

  @Test
  void anUnservedVersionIsRefused() {
    String yaml =
        Samples.read("samples", "mirror.yaml")
            .replace("networking.istio.io/v1", "networking.istio.io/v2");
    assertThatThrownBy(() -> IstioResources.parse(yaml, VirtualService.class))
        .isInstanceOf(InvalidConfigException.class)
        .hasMessageContaining("apiVersion: 'networking.istio.io/v2' is not an Istio API version");
  }

  @Test
  void semanticRulesNameTheField() {
    String yaml =
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: Reviews
        spec:
          hosts: [reviews]
          http:
          - match:
            - headers:
                End-User: {exact: jason}
              uri: {exact: /a, prefix: /b}
            fault:
              abort: {httpStatus: 700}
            retries: {attempts: 2, retryOn: "5xx,sometimes"}
            redirect: {uri: /x, redirectCode: 200}
            route:
            - destination: {host: reviews, port: {number: 70000}}
        """;
    InvalidConfigException e =
        catchThrowableOfType(InvalidConfigException.class, () -> IstioResources.parseAll(yaml));
    assertThat(e.errors())
        .extracting(ConfigError::field)
        .containsExactlyInAnyOrder(
            "metadata.name",
            "spec.http[0]",
            "spec.http[0].match[0].uri",
            "spec.http[0].match[0].headers.End-User",
            "spec.http[0].route[0].destination.port.number",
            "spec.http[0].retries.retryOn",
            "spec.http[0].fault.abort.httpStatus",
            "spec.http[0].redirect.redirectCode");
    assertThat(e.errors()).allSatisfy(err -> assertThat(err.ref()).isEqualTo("default/Reviews"));
  }
}
