package dev.mesh.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class IstioDurationTest {

  @ParameterizedTest
  @CsvSource({
    "10s,10000",
    "0.5s,500",
    "1.5s,1500",
    "100ms,100",
    "1m30s,90000",
    "2h,7200000",
    "0,0"
  })
  void parsesGoDurations(String text, long millis) {
    assertThat(IstioDuration.parse(text)).isEqualTo(Duration.ofMillis(millis));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "10", "10 s", "s", "1d", "-1s", "1.2.3s"})
  void refusesTheRest(String text) {
    assertThatThrownBy(() -> IstioDuration.parse(text))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
