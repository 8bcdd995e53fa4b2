package dev.mesh.proxy.stats;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * Metrics with Prometheus labels, as Istio's standard metrics are: counters and histograms keyed by
 * metric name and label values, written in Prometheus text format.
 */
public final class LabelledMetrics {

  /**
   * Labels in a fixed order, so that equal label sets are one series. The hash is computed once: a
   * request's metrics look the same labels up several times.
   */
  public static final class Labels {
    private final List<Map.Entry<String, String>> pairs;
    private final int hash;

    private Labels(List<Map.Entry<String, String>> pairs) {
      this.pairs = pairs;
      this.hash = pairs.hashCode();
    }

    public static Labels of(Map<String, String> ordered) {
      return new Labels(List.copyOf(ordered.entrySet()));
    }

    List<Map.Entry<String, String>> pairs() {
      return pairs;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Labels l && l.hash == hash && l.pairs.equals(pairs);
    }

    @Override
    public int hashCode() {
      return hash;
    }

    String render(String extraName, String extraValue) {
      StringBuilder b = new StringBuilder("{");
      for (var e : pairs) {
        if (b.length() > 1) {
          b.append(',');
        }
        b.append(e.getKey()).append("=\"").append(escape(e.getValue())).append('"');
      }
      if (extraName != null) {
        if (b.length() > 1) {
          b.append(',');
        }
        b.append(extraName).append("=\"").append(extraValue).append('"');
      }
      return b.append('}').toString();
    }
  }

  public static final class Histogram {
    private final double[] bounds;
    private final LongAdder[] buckets;
    private final LongAdder count = new LongAdder();
    private final DoubleAdder sum = new DoubleAdder();

    Histogram(double[] bounds) {
      this.bounds = bounds;
      this.buckets = new LongAdder[bounds.length];
      for (int i = 0; i < bounds.length; i++) {
        buckets[i] = new LongAdder();
      }
    }

    public void record(double value) {
      for (int i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]) {
          buckets[i].increment();
          break;
        }
      }
      count.increment();
      sum.add(value);
    }

    public long count() {
      return count.sum();
    }
  }

  private record Series(String metric, Labels labels) {}

  private final Map<Series, Stats.Counter> counters = new ConcurrentHashMap<>();
  private final Map<Series, Histogram> histograms = new ConcurrentHashMap<>();

  public Stats.Counter counter(String metric, Labels labels) {
    return counters.computeIfAbsent(new Series(metric, labels), s -> new Stats.Counter());
  }

  public Histogram histogram(String metric, Labels labels, double[] bounds) {
    return histograms.computeIfAbsent(new Series(metric, labels), s -> new Histogram(bounds));
  }

  /** The total of a counter over every series whose labels include all of {@code match}. */
  public long sum(String metric, Map<String, String> match) {
    long total = 0;
    for (var e : counters.entrySet()) {
      if (e.getKey().metric().equals(metric) && includes(e.getKey().labels(), match)) {
        total += e.getValue().value();
      }
    }
    return total;
  }

  private static boolean includes(Labels labels, Map<String, String> match) {
    Map<String, String> all = new TreeMap<>();
    labels.pairs().forEach(p -> all.put(p.getKey(), p.getValue()));
    return match.entrySet().stream().allMatch(m -> m.getValue().equals(all.get(m.getKey())));
  }

  void appendPrometheus(StringBuilder b) {
    TreeMap<String, List<String>> families = new TreeMap<>();
    counters.forEach(
        (s, c) ->
            families
                .computeIfAbsent(s.metric() + " counter", k -> new ArrayList<>())
                .add(s.metric() + s.labels().render(null, null) + " " + c.value()));
    histograms.forEach(
        (s, h) -> {
          List<String> lines =
              families.computeIfAbsent(s.metric() + " histogram", k -> new ArrayList<>());
          long cumulative = 0;
          for (int i = 0; i < h.bounds.length; i++) {
            cumulative += h.buckets[i].sum();
            lines.add(
                s.metric()
                    + "_bucket"
                    + s.labels().render("le", format(h.bounds[i]))
                    + " "
                    + cumulative);
          }
          lines.add(s.metric() + "_bucket" + s.labels().render("le", "+Inf") + " " + h.count());
          lines.add(s.metric() + "_sum" + s.labels().render(null, null) + " " + h.sum.sum());
          lines.add(s.metric() + "_count" + s.labels().render(null, null) + " " + h.count());
        });
    families.forEach(
        (family, lines) -> {
          String[] nameAndType = family.split(" ");
          b.append("# TYPE ")
              .append(nameAndType[0])
              .append(' ')
              .append(nameAndType[1])
              .append('\n');
          lines.forEach(l -> b.append(l).append('\n'));
        });
  }

  private static String format(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  private static String escape(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }
}
