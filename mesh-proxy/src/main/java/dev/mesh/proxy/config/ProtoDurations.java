package dev.mesh.proxy.config;

import com.google.protobuf.util.Durations;
import java.time.Duration;

/** Envoy's protobuf durations as java.time durations. */
public final class ProtoDurations {
  private ProtoDurations() {}

  public static Duration of(com.google.protobuf.Duration d) {
    return Duration.ofNanos(Durations.toNanos(d));
  }

  /** The field's value when it is set, else Envoy's default for it. */
  public static Duration orDefault(boolean set, com.google.protobuf.Duration d, Duration dflt) {
    return set ? of(d) : dflt;
  }
}
