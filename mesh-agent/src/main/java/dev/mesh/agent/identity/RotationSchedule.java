package dev.mesh.agent.identity;

import java.time.Duration;
import java.time.Instant;
import java.util.function.DoubleSupplier;

/**
 * When to replace a certificate, as Istio's secret cache decides: once the grace period is left of
 * its life (SECRET_GRACE_PERIOD_RATIO of the time from when it arrived to when it expires), the
 * ratio moved by up to ±jitter so that the pods a CA signed together do not all come back at once.
 */
final class RotationSchedule {
  private final double ratio;
  private final double jitter;
  private final DoubleSupplier random;

  RotationSchedule(double ratio, double jitter, DoubleSupplier random) {
    this.ratio = ratio;
    this.jitter = jitter;
    this.random = random;
  }

  /** The wait from {@code now} until the certificate received at {@code created} is replaced. */
  Duration delay(Instant created, Instant expires, Instant now) {
    Duration life = Duration.between(created, expires);
    // random() in [0,1): a shift in [-jitter, +jitter).
    double r = Math.min(1, Math.max(0, ratio + (random.getAsDouble() * 2 - 1) * jitter));
    Instant at = expires.minusNanos(Math.round(life.toNanos() * r));
    Duration delay = Duration.between(now, at);
    return delay.isNegative() ? Duration.ZERO : delay;
  }
}
