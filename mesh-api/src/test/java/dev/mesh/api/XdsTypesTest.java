package dev.mesh.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class XdsTypesTest {
  @Test
  void typeUrlsHaveEnvoysShortNames() {
    assertThat(XdsTypes.shortName(XdsTypes.CLUSTER)).isEqualTo("CDS");
    assertThat(XdsTypes.shortName(XdsTypes.ENDPOINT)).isEqualTo("EDS");
    assertThat(XdsTypes.shortName(XdsTypes.LISTENER)).isEqualTo("LDS");
    assertThat(XdsTypes.shortName(XdsTypes.ROUTE)).isEqualTo("RDS");
    assertThat(XdsTypes.shortName(XdsTypes.SECRET)).isEqualTo("SDS");
    assertThat(XdsTypes.shortName("type.googleapis.com/other"))
        .isEqualTo("type.googleapis.com/other");
    assertThat(XdsTypes.LISTENER)
        .isEqualTo("type.googleapis.com/envoy.config.listener.v3.Listener");
  }
}
