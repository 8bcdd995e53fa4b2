package dev.mesh.proxy.stats;

/** The {@code <prefix>_2xx} ... {@code <prefix>_5xx} counters Envoy keeps per response class. */
public final class StatusClassCounters {
  private final Stats.Counter c2xx;
  private final Stats.Counter c3xx;
  private final Stats.Counter c4xx;
  private final Stats.Counter c5xx;

  public StatusClassCounters(Stats stats, Stats.Scope scope, String prefix) {
    c2xx = stats.counter(scope, prefix + "_2xx");
    c3xx = stats.counter(scope, prefix + "_3xx");
    c4xx = stats.counter(scope, prefix + "_4xx");
    c5xx = stats.counter(scope, prefix + "_5xx");
  }

  public void record(int status) {
    switch (status / 100) {
      case 2 -> c2xx.inc();
      case 3 -> c3xx.inc();
      case 4 -> c4xx.inc();
      case 5 -> c5xx.inc();
      default -> {}
    }
  }
}
