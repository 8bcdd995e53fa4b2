package dev.mesh.config;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as Istio's YAML writes them, in Go's syntax: {@code 10s}, {@code 1.5s}, {@code 100ms},
 * {@code 1m30s}, {@code 2h}.
 */
public final class IstioDuration {
  private IstioDuration() {}

  private static final Pattern PART =
      Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|ms|s|m|h)");

  /** Parses a duration; throws IllegalArgumentException saying what is wrong. */
  public static Duration parse(String text) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException("empty duration");
    }
    if (text.equals("0")) {
      return Duration.ZERO;
    }
    Matcher m = PART.matcher(text);
    BigDecimal nanos = BigDecimal.ZERO;
    int at = 0;
    while (at < text.length()) {
      if (!m.find(at) || m.start() != at) {
        throw new IllegalArgumentException(
            "'" + text + "' is not a duration such as 10s, 1.5s, 100ms or 1m30s");
      }
      nanos = nanos.add(new BigDecimal(m.group(1)).multiply(unitNanos(m.group(2))));
      at = m.end();
    }
    return Duration.ofNanos(nanos.longValueExact());
  }

  private static BigDecimal unitNanos(String unit) {
    return switch (unit) {
      case "ns" -> BigDecimal.ONE;
      case "us", "µs" -> BigDecimal.valueOf(1_000L);
      case "ms" -> BigDecimal.valueOf(1_000_000L);
      case "s" -> BigDecimal.valueOf(1_000_000_000L);
      case "m" -> BigDecimal.valueOf(60_000_000_000L);
      default -> BigDecimal.valueOf(3_600_000_000_000L);
    };
  }
}
