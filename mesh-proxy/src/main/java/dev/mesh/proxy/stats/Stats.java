package dev.mesh.proxy.stats;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Envoy-style stats: counters and gauges named as Envoy names them ({@code
 * cluster.<name>.upstream_rq_total}) and exported to Prometheus as Envoy exports them ({@code
 * envoy_cluster_upstream_rq_total{envoy_cluster_name="<name>"}}). The tag is given when a stat is
 * made, because names such as Istio's cluster names hold dots and cannot be split back.
 */
public final class Stats {

  /** A stats scope: {@code cluster.<name>}, {@code http.<prefix>}, {@code listener.<address>}. */
  public record Scope(String kind, String tagName, String tagValue) {
    public static Scope cluster(String name) {
      return new Scope("cluster", "envoy_cluster_name", name);
    }

    public static Scope http(String statPrefix) {
      return new Scope("http", "envoy_http_conn_manager_prefix", statPrefix);
    }

    public static Scope tcp(String statPrefix) {
      return new Scope("tcp", "envoy_tcp_prefix", statPrefix);
    }

    public static Scope listener(String address) {
      return new Scope("listener", "envoy_listener_address", address);
    }

    String envoyName(String stat) {
      return tagValue == null ? kind + "." + stat : kind + "." + tagValue + "." + stat;
    }
  }

  public static final class Counter {
    private final LongAdder value = new LongAdder();

    public void inc() {
      value.increment();
    }

    public void add(long n) {
      value.add(n);
    }

    public long value() {
      return value.sum();
    }
  }

  public static final class Gauge {
    private final AtomicLong value = new AtomicLong();

    public void inc() {
      value.incrementAndGet();
    }

    public void dec() {
      value.decrementAndGet();
    }

    public void set(long v) {
      value.set(v);
    }

    public long value() {
      return value.get();
    }
  }

  private record Key(Scope scope, String stat) {}

  private final Map<Key, Counter> counters = new ConcurrentHashMap<>();
  private final LabelledMetrics labelled = new LabelledMetrics();

  /** Istio's standard metrics and other labelled series. */
  public LabelledMetrics labelled() {
    return labelled;
  }

  private final Map<Key, Gauge> gauges = new ConcurrentHashMap<>();

  public Counter counter(Scope scope, String stat) {
    return counters.computeIfAbsent(new Key(scope, stat), k -> new Counter());
  }

  public Gauge gauge(Scope scope, String stat) {
    return gauges.computeIfAbsent(new Key(scope, stat), k -> new Gauge());
  }

  /** The value of a stat by its Envoy name, or -1 when there is none. */
  public long value(String envoyName) {
    for (var e : counters.entrySet()) {
      if (e.getKey().scope.envoyName(e.getKey().stat).equals(envoyName)) {
        return e.getValue().value();
      }
    }
    for (var e : gauges.entrySet()) {
      if (e.getKey().scope.envoyName(e.getKey().stat).equals(envoyName)) {
        return e.getValue().value();
      }
    }
    return -1;
  }

  /** Envoy's /stats text: {@code name: value}, sorted. */
  public String text() {
    TreeMap<String, Long> all = new TreeMap<>();
    counters.forEach((k, c) -> all.put(k.scope.envoyName(k.stat), c.value()));
    gauges.forEach((k, g) -> all.put(k.scope.envoyName(k.stat), g.value()));
    StringBuilder b = new StringBuilder();
    all.forEach((name, v) -> b.append(name).append(": ").append(v).append('\n'));
    return b.toString();
  }

  /** Prometheus text exposition, with Envoy's metric names and tags. */
  public String prometheus() {
    StringBuilder b = new StringBuilder();
    append(b, "counter", counters);
    append(b, "gauge", gauges);
    labelled.appendPrometheus(b);
    return b.toString();
  }

  private static <T> void append(StringBuilder b, String type, Map<Key, T> stats) {
    TreeMap<String, List<String>> families = new TreeMap<>();
    stats.forEach(
        (k, v) -> {
          String metric = "envoy_" + k.scope.kind + "_" + sanitize(k.stat);
          String labels =
              k.scope.tagName == null
                  ? ""
                  : "{" + k.scope.tagName + "=\"" + escape(k.scope.tagValue) + "\"}";
          long value = v instanceof Counter c ? c.value() : ((Gauge) v).value();
          families
              .computeIfAbsent(metric, m -> new ArrayList<>())
              .add(metric + labels + " " + value);
        });
    families.forEach(
        (metric, samples) -> {
          b.append("# TYPE ").append(metric).append(' ').append(type).append('\n');
          samples.stream().sorted().forEach(s -> b.append(s).append('\n'));
        });
  }

  private static String sanitize(String stat) {
    return stat.replaceAll("[^a-zA-Z0-9_]", "_");
  }

  private static String escape(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }
}
