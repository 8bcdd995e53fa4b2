package dev.mesh.config.validation;

import dev.mesh.config.ConfigError;
import dev.mesh.config.IstioDuration;
import dev.mesh.config.networking.Percent;
import dev.mesh.config.networking.StringMatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** Collects the errors of one document, each with its field path, and holds the common checks. */
final class Problems {
  private final String kind;
  private final String ref;
  private final List<ConfigError> errors = new ArrayList<>();

  Problems(String kind, String ref) {
    this.kind = kind;
    this.ref = ref;
  }

  List<ConfigError> errors() {
    return errors;
  }

  void add(String field, String message) {
    errors.add(new ConfigError(kind, ref, field, message));
  }

  /** Adds "is required" when the value is absent, or an empty string, list or map. */
  boolean required(Object value, String field) {
    boolean missing =
        value == null
            || value instanceof String s && s.isEmpty()
            || value instanceof Collection<?> c && c.isEmpty()
            || value instanceof Map<?, ?> m && m.isEmpty();
    if (missing) {
      add(field, "is required");
    }
    return !missing;
  }

  void range(Integer value, long min, long max, String field) {
    if (value != null && (value < min || value > max)) {
      add(field, "must be between " + min + " and " + max + ", got " + value);
    }
  }

  void port(Integer value, String field) {
    range(value, 1, 65535, field);
  }

  void percent(Percent p, String field) {
    if (p != null && p.value != null && (p.value < 0 || p.value > 100)) {
      add(field + ".value", "must be between 0 and 100, got " + p.value);
    }
  }

  /** Checks a duration's syntax and that it is at least {@code min}. */
  void duration(String value, Duration min, String field) {
    if (value == null) {
      return;
    }
    try {
      Duration d = IstioDuration.parse(value);
      if (d.compareTo(min) < 0) {
        add(field, "must be at least " + format(min) + ", got " + value);
      }
    } catch (IllegalArgumentException e) {
      add(field, e.getMessage());
    }
  }

  void stringMatch(StringMatch m, String field) {
    if (m == null) {
      return;
    }
    int set = (m.exact != null ? 1 : 0) + (m.prefix != null ? 1 : 0) + (m.regex != null ? 1 : 0);
    if (set != 1) {
      add(field, "must set exactly one of exact, prefix or regex");
    }
    regex(m.regex, field + ".regex");
  }

  void regex(String regex, String field) {
    if (regex == null) {
      return;
    }
    try {
      Pattern.compile(regex);
    } catch (PatternSyntaxException e) {
      add(field, "is not a valid regular expression: " + e.getDescription());
    }
  }

  void oneOf(String value, Collection<String> allowed, String field) {
    if (value != null && !allowed.contains(value)) {
      add(field, "unknown value \"" + value + "\", must be one of " + String.join(", ", allowed));
    }
  }

  private static String format(Duration d) {
    return d.toMillis() >= 1000 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }

  /** Runs a check on each item of a list, with the item's path, {@code at[i]}. */
  static <T> void each(List<T> items, String at, BiConsumer<T, String> check) {
    if (items == null) {
      return;
    }
    for (int i = 0; i < items.size(); i++) {
      check.accept(items.get(i), at + "[" + i + "]");
    }
  }
}
