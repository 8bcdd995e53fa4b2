package dev.mesh.local.cluster.volume;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** When a projected token is renewed: as the kubelet's token manager, at 80% of its life. */
class TokenTest {
  @Test
  void renewedAfterFourFifthsOfItsLifeOrADay() {
    Instant issued = Instant.parse("2026-01-01T00:00:00Z");
    var token = new VolumeSources.Token("t", issued, issued.plusSeconds(3600));
    assertThat(token.needsRefresh(issued.plusSeconds(2879))).isFalse();
    assertThat(token.needsRefresh(issued.plusSeconds(2881))).isTrue();
    // A year-long token (the API server extends 3607 s ones) is renewed after a day all the same.
    var extended = new VolumeSources.Token("t", issued, issued.plusSeconds(365L * 24 * 3600));
    assertThat(extended.needsRefresh(issued.plusSeconds(23 * 3600))).isFalse();
    assertThat(extended.needsRefresh(issued.plusSeconds(24 * 3600 + 1))).isTrue();
    var logged = new VolumeSources.Token("eyJ-secret", issued, issued.plusSeconds(3600));
    assertThat(logged.toString()).as("never in a log line").doesNotContain("eyJ-secret");
  }
}
