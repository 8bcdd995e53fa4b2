package dev.mesh.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NodeIdTest {

  @Test
  void formatsASidecarAsIstioDoes() {
    NodeId id = NodeId.sidecar("10.1.2.3", "reviews-v1-7f9c", "default");
    assertThat(id)
        .hasToString("sidecar~10.1.2.3~reviews-v1-7f9c.default~default.svc.cluster.local");
  }

  @Test
  void parsesWhatItFormats() {
    NodeId id = NodeId.parse("sidecar~10.1.2.3~pod.ns~ns.svc.cluster.local");
    assertThat(id.type()).isEqualTo(NodeId.Type.SIDECAR);
    assertThat(id.ipAddress()).isEqualTo("10.1.2.3");
    assertThat(id.podName()).isEqualTo("pod");
    assertThat(id.namespace()).isEqualTo("ns");
    assertThat(id.dnsDomain()).isEqualTo("ns.svc.cluster.local");
    assertThat(NodeId.parse(id.toString())).isEqualTo(id);
  }

  @Test
  void aPodNameMayHoldDotsButANamespaceNever() {
    NodeId id = NodeId.parse("router~fd00::1~gw.v1.2.istio-system~istio-system.svc.cluster.local");
    assertThat(id.type()).isEqualTo(NodeId.Type.ROUTER);
    assertThat(id.podName()).isEqualTo("gw.v1.2");
    assertThat(id.namespace()).isEqualTo("istio-system");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "sidecar~10.1.2.3~pod.ns",
        "gateway~10.1.2.3~pod.ns~ns.svc.cluster.local",
        "sidecar~10.1.2~pod.ns~ns.svc.cluster.local",
        "sidecar~10.1.2.300~pod.ns~ns.svc.cluster.local",
        "sidecar~reviews~pod.ns~ns.svc.cluster.local",
        "sidecar~10.1.2.3~~ns.svc.cluster.local",
        "sidecar~10.1.2.3~a~b~c"
      })
  void rejectsMalformedIdsNamingThem(String bad) {
    assertThatThrownBy(() -> NodeId.parse(bad))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(bad);
  }
}
