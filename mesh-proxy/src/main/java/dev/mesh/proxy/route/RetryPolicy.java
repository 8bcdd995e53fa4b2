package dev.mesh.proxy.route;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import io.envoyproxy.envoy.config.route.v3.Route;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/** A route's retry_policy with Envoy's meaning of each retry_on condition. */
public record RetryPolicy(
    Set<String> on,
    Set<Integer> retriableStatusCodes,
    int numRetries,
    Duration perTryTimeout,
    Duration baseInterval,
    Duration maxInterval) {

  private static final Set<String> KNOWN =
      Set.of("5xx", "gateway-error", "connect-failure", "retriable-status-codes", "reset");

  public static final RetryPolicy NONE =
      new RetryPolicy(
          Set.of(), Set.of(), 0, Duration.ZERO, Duration.ofMillis(25), Duration.ofMillis(250));

  public static RetryPolicy of(Route route) {
    if (!route.getRoute().hasRetryPolicy()) {
      return NONE;
    }
    var p = route.getRoute().getRetryPolicy();
    Set<String> on = new HashSet<>();
    for (String c : p.getRetryOn().split(",")) {
      String cond = c.trim();
      if (cond.isEmpty()) {
        continue;
      }
      if (!KNOWN.contains(cond)) {
        throw new ConfigRejectedException(
            "route " + route.getName() + ": retry_on condition '" + cond + "' is not supported");
      }
      on.add(cond);
    }
    int num = p.hasNumRetries() ? p.getNumRetries().getValue() : 1;
    Duration perTry =
        ProtoDurations.orDefault(p.hasPerTryTimeout(), p.getPerTryTimeout(), Duration.ZERO);
    Duration base = Duration.ofMillis(25);
    Duration max = null;
    if (p.hasRetryBackOff()) {
      var b = p.getRetryBackOff();
      base = ProtoDurations.of(b.getBaseInterval());
      if (b.hasMaxInterval()) {
        max = ProtoDurations.of(b.getMaxInterval());
      }
    }
    return new RetryPolicy(
        on,
        Set.copyOf(p.getRetriableStatusCodesList()),
        num,
        perTry,
        base,
        max == null ? base.multipliedBy(10) : max);
  }

  public boolean retriesStatus(int status) {
    return on.contains("5xx") && status >= 500
        || on.contains("gateway-error") && (status == 502 || status == 503 || status == 504)
        || on.contains("retriable-status-codes") && retriableStatusCodes.contains(status);
  }

  public boolean retriesConnectFailure() {
    return on.contains("connect-failure") || on.contains("5xx") || on.contains("gateway-error");
  }

  public boolean retriesReset() {
    return on.contains("reset") || on.contains("5xx") || on.contains("gateway-error");
  }

  public boolean retriesTimeout() {
    return on.contains("5xx") || on.contains("gateway-error");
  }

  /** Envoy's fully jittered exponential back-off before retry number {@code n} (from 1). */
  public Duration backOff(int n) {
    long ceiling = Math.min(maxInterval.toNanos(), baseInterval.toNanos() << Math.min(n - 1, 20));
    return Duration.ofNanos(ThreadLocalRandom.current().nextLong(Math.max(1, ceiling)));
  }
}
