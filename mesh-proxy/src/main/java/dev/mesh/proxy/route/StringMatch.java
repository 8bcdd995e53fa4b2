package dev.mesh.proxy.route;

import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Envoy's StringMatcher as a predicate (for routes, and filters that match strings: RBAC);
 * safe_regex matches the whole value, as RE2 does there.
 */
public final class StringMatch {
  private StringMatch() {}

  public static Predicate<String> of(StringMatcher m) {
    boolean ic = m.getIgnoreCase();
    return switch (m.getMatchPatternCase()) {
      case EXACT -> v -> ic ? v.equalsIgnoreCase(m.getExact()) : v.equals(m.getExact());
      case PREFIX -> v -> startsWith(v, m.getPrefix(), ic);
      case SUFFIX ->
          v ->
              ic
                  ? v.toLowerCase(Locale.ROOT).endsWith(m.getSuffix().toLowerCase(Locale.ROOT))
                  : v.endsWith(m.getSuffix());
      case CONTAINS ->
          v ->
              ic
                  ? v.toLowerCase(Locale.ROOT).contains(m.getContains().toLowerCase(Locale.ROOT))
                  : v.contains(m.getContains());
      case SAFE_REGEX -> regex(m.getSafeRegex().getRegex());
      default -> v -> true;
    };
  }

  static Predicate<String> regex(String regex) {
    Pattern p = Pattern.compile(regex);
    return v -> p.matcher(v).matches();
  }

  static boolean startsWith(String v, String prefix, boolean ignoreCase) {
    return v.regionMatches(ignoreCase, 0, prefix, 0, prefix.length());
  }
}
