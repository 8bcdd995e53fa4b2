package dev.mesh.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClusterNameTest {

  @Test
  void namesClustersAsIstioDoes() {
    assertThat(ClusterName.outbound(9080, "v2", "reviews.default.svc.cluster.local"))
        .hasToString("outbound|9080|v2|reviews.default.svc.cluster.local");
    assertThat(ClusterName.outbound(9080, "reviews.default.svc.cluster.local"))
        .hasToString("outbound|9080||reviews.default.svc.cluster.local");
    assertThat(ClusterName.inbound(9080)).hasToString("inbound|9080||");
  }

  @Test
  void parsesWhatItFormats() {
    ClusterName name = ClusterName.parse("outbound|9080|v2|reviews.default.svc.cluster.local");
    assertThat(name.direction()).isEqualTo(ClusterName.Direction.OUTBOUND);
    assertThat(name.port()).isEqualTo(9080);
    assertThat(name.subset()).isEqualTo("v2");
    assertThat(name.hasSubset()).isTrue();
    assertThat(name.host()).isEqualTo("reviews.default.svc.cluster.local");
    assertThat(ClusterName.parse("inbound|9080||")).isEqualTo(ClusterName.inbound(9080));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "outbound|9080|reviews",
        "sideways|9080||reviews",
        "outbound|http||reviews",
        "outbound|0||reviews",
        "outbound|9080||",
        "PassthroughCluster"
      })
  void rejectsMalformedNames(String bad) {
    assertThatThrownBy(() -> ClusterName.parse(bad))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(bad);
  }

  @Test
  void namesListenersAndRoutesByPort() {
    assertThat(EnvoyNames.wildcardListener(9080)).isEqualTo("0.0.0.0_9080");
    assertThat(EnvoyNames.listener("10.96.0.10", 9080)).isEqualTo("10.96.0.10_9080");
    assertThat(EnvoyNames.routeConfig(9080)).isEqualTo("9080");
    assertThatThrownBy(() -> EnvoyNames.routeConfig(70000))
        .hasMessageContaining("between 1 and 65535");
  }
}
