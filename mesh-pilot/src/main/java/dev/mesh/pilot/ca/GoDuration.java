package dev.mesh.pilot.ca;

import java.time.Duration;

/** Durations written as Go's time.Duration prints them ({@code 2160h0m0s}), as Istio's messages. */
final class GoDuration {
  private GoDuration() {}

  static String format(Duration d) {
    if (d.isZero()) {
      return "0s";
    }
    String sign = d.isNegative() ? "-" : "";
    Duration a = d.abs();
    long hours = a.toHours();
    int minutes = a.toMinutesPart();
    int seconds = a.toSecondsPart();
    int nanos = a.toNanosPart();
    String s =
        nanos == 0
            ? seconds + "s"
            : (seconds + "." + String.format("%09d", nanos)).replaceAll("0+$", "") + "s";
    if (hours > 0) {
      return sign + hours + "h" + minutes + "m" + s;
    }
    if (minutes > 0) {
      return sign + minutes + "m" + s;
    }
    return sign + s;
  }
}
