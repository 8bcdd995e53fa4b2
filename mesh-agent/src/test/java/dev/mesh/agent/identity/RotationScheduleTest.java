package dev.mesh.agent.identity;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class RotationScheduleTest {
  static final Instant T0 = Instant.parse("2026-12-02T00:00:00Z");
  static final Instant EXPIRES = T0.plus(Duration.ofHours(24));

  @Test
  void atHalfTheLifeWithoutJitter() {
    var s = new RotationSchedule(0.5, 0.01, () -> 0.5);
    assertThat(s.delay(T0, EXPIRES, T0)).isEqualTo(Duration.ofHours(12));
    assertThat(s.delay(T0, EXPIRES, T0.plus(Duration.ofHours(2)))).isEqualTo(Duration.ofHours(10));
  }

  @Test
  void theJitterMovesTheRatioByAtMostItsAmount() {
    var early = new RotationSchedule(0.5, 0.01, () -> 0.999999);
    var late = new RotationSchedule(0.5, 0.01, () -> 0.0);
    // ratio 0.51 leaves 51% of the life as grace: renewed at 49%; ratio 0.49 at 51%.
    assertThat(early.delay(T0, EXPIRES, T0))
        .isBetween(Duration.ofMinutes(705), Duration.ofMinutes(706));
    assertThat(late.delay(T0, EXPIRES, T0)).isEqualTo(Duration.ofMinutes(734).plusSeconds(24));
  }

  @Test
  void neverNegative() {
    var s = new RotationSchedule(0.5, 0.01, () -> 0.5);
    assertThat(s.delay(T0, EXPIRES, EXPIRES.plusSeconds(1))).isEqualTo(Duration.ZERO);
  }
}
