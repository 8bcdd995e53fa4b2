package dev.mesh.proxy.http.hcm;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A listener's drain, as Envoy's drain manager runs it: with the immediate strategy every response
 * asks its client to close; with the gradual one, a share of them that grows from 0 to 1 over the
 * drain time.
 */
public record DrainState(long startNanos, Duration drainTime, boolean immediate) {

  public static DrainState start(Duration drainTime, boolean immediate) {
    return new DrainState(System.nanoTime(), drainTime, immediate);
  }

  /** Whether this response should close its connection (HTTP/1.1) or send GOAWAY (HTTP/2). */
  public boolean closeNow() {
    if (immediate || drainTime.isZero()) {
      return true;
    }
    double elapsed = (System.nanoTime() - startNanos) / (double) drainTime.toNanos();
    return ThreadLocalRandom.current().nextDouble() < Math.min(1.0, elapsed);
  }
}
