package dev.mesh.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SpiffeIdTest {

  @Test
  void roundTrips() {
    SpiffeId id = SpiffeId.parse("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews");
    assertThat(id.trustDomain()).isEqualTo("cluster.local");
    assertThat(id.namespace()).isEqualTo("bookinfo");
    assertThat(id.serviceAccount()).isEqualTo("bookinfo-reviews");
    assertThat(id).hasToString("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews");
    assertThat(new SpiffeId("cluster.local", "default", "sleep"))
        .hasToString("spiffe://cluster.local/ns/default/sa/sleep");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://cluster.local/ns/a/sa/b",
        "spiffe://cluster.local",
        "spiffe://cluster.local/ns/a",
        "spiffe://cluster.local/sa/b/ns/a",
        "spiffe://cluster.local/ns//sa/b",
        "spiffe://Cluster.Local/ns/a/sa/b",
        "spiffe://cluster.local/ns/a/sa/b/extra"
      })
  void rejectsWhatIsNotAnIstioIdentity(String bad) {
    assertThatThrownBy(() -> SpiffeId.parse(bad))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(bad);
  }
}
