package dev.mesh.pilot.xds;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** Pilot's metrics, with Istio's names, in Prometheus text format. */
public final class PilotMetrics {
  private static final double[] BUCKETS = {0.01, 0.05, 0.1, 0.5, 1, 3, 5, 10, 20, 30};

  private final Map<String, AtomicLong> pushes = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> rejects = new ConcurrentHashMap<>();
  final AtomicLong connected = new AtomicLong();
  private final AtomicLongArray convergence = new AtomicLongArray(BUCKETS.length + 1);
  private final AtomicLong convergenceCount = new AtomicLong();
  private volatile double convergenceSum;
  private final java.util.function.LongSupplier invalidConfig;

  public PilotMetrics(java.util.function.LongSupplier invalidConfig) {
    this.invalidConfig = invalidConfig;
  }

  void pushed(String type) {
    pushes.computeIfAbsent(type.toLowerCase(), t -> new AtomicLong()).incrementAndGet();
  }

  void rejected(String type) {
    rejects.computeIfAbsent(type.toLowerCase(), t -> new AtomicLong()).incrementAndGet();
  }

  public long pushes(String type) {
    AtomicLong n = pushes.get(type.toLowerCase());
    return n == null ? 0 : n.get();
  }

  /** A change reached a proxy and was ACKed, this many seconds after it was seen. */
  synchronized void converged(double seconds) {
    int i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]) {
      i++;
    }
    convergence.incrementAndGet(i);
    convergenceCount.incrementAndGet();
    convergenceSum += seconds;
  }

  public synchronized String prometheus() {
    StringBuilder b = new StringBuilder();
    b.append("# TYPE pilot_xds_pushes counter\n");
    new TreeMap<>(pushes)
        .forEach(
            (t, n) ->
                b.append("pilot_xds_pushes{type=\"")
                    .append(t)
                    .append("\"} ")
                    .append(n)
                    .append('\n'));
    b.append("# TYPE pilot_xds_connected gauge\n");
    b.append("pilot_xds_connected ").append(connected.get()).append('\n');
    b.append("# TYPE pilot_total_xds_rejects counter\n");
    new TreeMap<>(rejects)
        .forEach(
            (t, n) ->
                b.append("pilot_total_xds_rejects{type=\"")
                    .append(t)
                    .append("\"} ")
                    .append(n)
                    .append('\n'));
    b.append("# TYPE pilot_invalid_config counter\n");
    b.append("pilot_invalid_config ").append(invalidConfig.getAsLong()).append('\n');
    b.append("# TYPE pilot_proxy_convergence_time histogram\n");
    long cumulative = 0;
    for (int i = 0; i < BUCKETS.length; i++) {
      cumulative += convergence.get(i);
      b.append("pilot_proxy_convergence_time_bucket{le=\"")
          .append(BUCKETS[i])
          .append("\"} ")
          .append(cumulative)
          .append('\n');
    }
    cumulative += convergence.get(BUCKETS.length);
    b.append("pilot_proxy_convergence_time_bucket{le=\"+Inf\"} ").append(cumulative).append('\n');
    b.append("pilot_proxy_convergence_time_sum ").append(convergenceSum).append('\n');
    b.append("pilot_proxy_convergence_time_count ").append(convergenceCount.get()).append('\n');
    return b.toString();
  }
}
