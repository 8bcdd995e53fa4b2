package dev.mesh.pilot.security.authz;

import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;

/**
 * Istio's value syntax in AuthorizationPolicy: {@code *} alone is any (present) value, a leading or
 * trailing {@code *} a suffix or prefix match, anything else exact; principals get the {@code
 * spiffe://} prefix and namespaces become a pattern over the principal.
 */
final class Values {
  private Values() {}

  static StringMatcher string(String v, boolean ignoreCase) {
    StringMatcher.Builder m = StringMatcher.newBuilder();
    if (ignoreCase) {
      m.setIgnoreCase(true);
    }
    if (v.equals("*")) {
      return m.setSafeRegex(regex(".+")).build();
    }
    if (v.startsWith("*")) {
      return m.setSuffix(v.substring(1)).build();
    }
    if (v.endsWith("*")) {
      return m.setPrefix(v.substring(0, v.length() - 1)).build();
    }
    return m.setExact(v).build();
  }

  /** A principal ({@code cluster.local/ns/x/sa/y}) against the peer's SPIFFE id. */
  static StringMatcher principal(String v) {
    if (v.equals("*")) {
      return StringMatcher.newBuilder().setSafeRegex(regex(".+")).build();
    }
    if (v.startsWith("*")) {
      // A suffix under the prefix spiffe:// can only be said as a pattern.
      return StringMatcher.newBuilder()
          .setSafeRegex(regex("spiffe://.*" + quote(v.substring(1))))
          .build();
    }
    if (v.endsWith("*")) {
      return StringMatcher.newBuilder()
          .setPrefix("spiffe://" + v.substring(0, v.length() - 1))
          .build();
    }
    return StringMatcher.newBuilder().setExact("spiffe://" + v).build();
  }

  /** A namespace, as the {@code /ns/<namespace>/} part of the peer's SPIFFE id. */
  static StringMatcher namespace(String v) {
    String ns;
    if (v.equals("*")) {
      ns = ".*";
    } else if (v.startsWith("*")) {
      ns = ".*" + quote(v.substring(1));
    } else if (v.endsWith("*")) {
      ns = quote(v.substring(0, v.length() - 1)) + ".*";
    } else {
      ns = quote(v);
    }
    return StringMatcher.newBuilder().setSafeRegex(regex(".*/ns/" + ns + "/.*")).build();
  }

  /** A service account, {@code ns/sa} or {@code sa} in the policy's namespace. */
  static StringMatcher serviceAccount(String v, String policyNamespace) {
    int slash = v.indexOf('/');
    String ns = slash < 0 ? policyNamespace : v.substring(0, slash);
    String sa = slash < 0 ? v : v.substring(slash + 1);
    return StringMatcher.newBuilder()
        .setSafeRegex(regex(".*/ns/" + quote(ns) + "/sa/" + quote(sa)))
        .build();
  }

  static RegexMatcher regex(String r) {
    return RegexMatcher.newBuilder()
        .setGoogleRe2(RegexMatcher.GoogleRE2.getDefaultInstance())
        .setRegex(r)
        .build();
  }

  /** Regex metacharacters escaped one by one (RE2 has no \Q...\E in every engine). */
  static String quote(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if ("\\.+*?()|[]{}^$".indexOf(c) >= 0) {
        b.append('\\');
      }
      b.append(c);
    }
    return b.toString();
  }
}
