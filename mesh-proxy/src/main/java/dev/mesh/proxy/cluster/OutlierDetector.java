package dev.mesh.proxy.cluster;

import dev.mesh.proxy.config.ProtoDurations;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import java.time.Duration;
import java.util.List;

/**
 * Envoy's outlier detection for consecutive 5xx and consecutive gateway errors (a connect failure
 * counts as both, as locally originated errors do when not split): a host that reaches the
 * threshold is ejected for base_ejection_time times the number of its ejections, until the next
 * analysis sweep (every interval) after that, while at most max_ejection_percent of the cluster
 * (and at least one host) is ejected.
 */
public final class OutlierDetector {
  private final int consecutive5xx;
  private final int consecutiveGateway;
  private final boolean enforce5xx;
  private final boolean enforceGateway;
  private final Duration baseEjection;
  private final int maxEjectionPercent;
  private final long intervalNanos;
  private final long sweepOrigin = System.nanoTime();
  private final UpstreamCluster.ClusterStats stats;

  OutlierDetector(OutlierDetection config, UpstreamCluster.ClusterStats stats) {
    this.consecutive5xx = config.hasConsecutive5Xx() ? config.getConsecutive5Xx().getValue() : 5;
    this.consecutiveGateway =
        config.hasConsecutiveGatewayFailure()
            ? config.getConsecutiveGatewayFailure().getValue()
            : 5;
    this.enforce5xx =
        !config.hasEnforcingConsecutive5Xx() || config.getEnforcingConsecutive5Xx().getValue() > 0;
    this.enforceGateway =
        config.hasEnforcingConsecutiveGatewayFailure()
            && config.getEnforcingConsecutiveGatewayFailure().getValue() > 0;
    this.baseEjection =
        ProtoDurations.orDefault(
            config.hasBaseEjectionTime(), config.getBaseEjectionTime(), Duration.ofSeconds(30));
    this.maxEjectionPercent =
        config.hasMaxEjectionPercent() ? config.getMaxEjectionPercent().getValue() : 10;
    this.intervalNanos =
        Math.max(
            1,
            ProtoDurations.orDefault(
                    config.hasInterval(), config.getInterval(), Duration.ofSeconds(10))
                .toNanos());
    this.stats = stats;
  }

  /** Records one response status (or 503 for a connect failure or reset) from a host. */
  void record(Endpoint host, int status, List<Endpoint> cluster) {
    boolean fiveXx = status >= 500;
    boolean gateway = status == 502 || status == 503 || status == 504;
    int n5xx = fiveXx ? host.consecutive5xx.incrementAndGet() : resetTo0(host.consecutive5xx);
    int nGateway =
        gateway ? host.consecutiveGateway.incrementAndGet() : resetTo0(host.consecutiveGateway);
    boolean eject =
        enforce5xx && fiveXx && n5xx >= consecutive5xx
            || enforceGateway && gateway && nGateway >= consecutiveGateway;
    if (!eject || host.isEjected(System.nanoTime())) {
      return;
    }
    long now = System.nanoTime();
    long ejected = cluster.stream().filter(e -> e.isEjected(now)).count();
    long allowed = Math.max(1, cluster.size() * maxEjectionPercent / 100);
    if (ejected >= allowed) {
      stats.ejectionsOverflow.inc();
      return;
    }
    int times = host.ejections.incrementAndGet();
    host.ejectedUntilNanos = nextSweep(now + baseEjection.toNanos() * times);
    host.consecutive5xx.set(0);
    host.consecutiveGateway.set(0);
    stats.ejectionsEnforced.inc();
  }

  /**
   * Envoy returns hosts to service at its analysis sweeps, every interval: an ejection lasts until
   * the first sweep after its time is up.
   */
  private long nextSweep(long due) {
    long sinceOrigin = due - sweepOrigin;
    long sweeps = (sinceOrigin + intervalNanos - 1) / intervalNanos;
    return sweepOrigin + sweeps * intervalNanos;
  }

  private static int resetTo0(java.util.concurrent.atomic.AtomicInteger counter) {
    counter.set(0);
    return 0;
  }
}
