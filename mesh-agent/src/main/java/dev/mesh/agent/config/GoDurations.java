package dev.mesh.agent.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as Istio's variables are written, Go's time.ParseDuration: "24h", "1h30m", "90s". */
final class GoDurations {
  private GoDurations() {}

  private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");

  static Duration parse(String name, String text) {
    String t = text.strip();
    Matcher m = PART.matcher(t);
    long nanos = 0;
    int at = 0;
    while (at < t.length() && m.find(at) && m.start() == at) {
      double n = Double.parseDouble(m.group(1));
      double unit =
          switch (m.group(2)) {
            case "ns" -> 1;
            case "us", "µs" -> 1e3;
            case "ms" -> 1e6;
            case "s" -> 1e9;
            case "m" -> 60e9;
            default -> 3600e9;
          };
      nanos += Math.round(n * unit);
      at = m.end();
    }
    if (at == 0 || at != t.length() || nanos <= 0) {
      throw new IllegalArgumentException(
          name + " must be a duration such as 24h or 90s, got '" + text + "'");
    }
    return Duration.ofNanos(nanos);
  }
}
