package dev.mesh.api;

import java.util.Objects;
import java.util.regex.Pattern;

/** A workload identity as Istio issues it: {@code spiffe://cluster.local/ns/NS/sa/SA}. */
public record SpiffeId(String trustDomain, String namespace, String serviceAccount) {

  private static final String SCHEME = "spiffe://";

  // The SPIFFE spec allows lowercase letters, digits, dots, dashes and underscores in a trust
  // domain.
  private static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9._-]+");
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._-]+");

  public SpiffeId {
    if (trustDomain == null || !TRUST_DOMAIN.matcher(trustDomain).matches()) {
      throw new IllegalArgumentException(
          "trust domain must be lowercase letters, digits, '.', '-' or '_', got '"
              + trustDomain
              + "'");
    }
    checkSegment(namespace, "namespace");
    checkSegment(serviceAccount, "service account");
  }

  private static void checkSegment(String value, String what) {
    if (value == null || !SEGMENT.matcher(value).matches()) {
      throw new IllegalArgumentException(
          what + " must be a non-empty path segment, got '" + value + "'");
    }
  }

  /** Parses a SPIFFE id of Istio's shape; throws IllegalArgumentException naming what is wrong. */
  public static SpiffeId parse(String uri) {
    Objects.requireNonNull(uri, "uri");
    if (!uri.startsWith(SCHEME)) {
      throw new IllegalArgumentException("'" + uri + "' does not start with " + SCHEME);
    }
    String rest = uri.substring(SCHEME.length());
    int slash = rest.indexOf('/');
    if (slash < 0) {
      throw new IllegalArgumentException("'" + uri + "' has no path /ns/NS/sa/SA");
    }
    String[] path = rest.substring(slash + 1).split("/", -1);
    if (path.length != 4 || !path[0].equals("ns") || !path[2].equals("sa")) {
      throw new IllegalArgumentException(
          "'" + uri + "': the path must be /ns/NAMESPACE/sa/SERVICE_ACCOUNT");
    }
    try {
      return new SpiffeId(rest.substring(0, slash), path[1], path[3]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + uri + "': " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return SCHEME + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
  }
}
