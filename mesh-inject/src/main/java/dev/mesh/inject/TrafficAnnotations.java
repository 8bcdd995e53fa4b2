package dev.mesh.inject;

import dev.mesh.api.IstioAnnotations;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import tools.jackson.databind.JsonNode;

/**
 * The checks Istio's injector makes of a pod's traffic and status annotations before it injects
 * (its validate.go): port lists of numbers in 1..65535, CIDR lists, and {@code *} where Istio
 * accepts it; the status port a number in 0..65535 (0 turns the status server off); the readiness
 * probe's numbers unsigned 32-bit integers, and at most what a probe's int32 fields hold. A bad
 * value is refused naming the annotation, rather than injected into the pod where it would fail at
 * the pod's start or capture the wrong traffic.
 */
final class TrafficAnnotations {
  private TrafficAnnotations() {}

  /** Each checked annotation, with the check that returns what is wrong or null. */
  private static final Map<String, UnaryOperator<String>> CHECKS = new LinkedHashMap<>();

  static {
    CHECKS.put(
        IstioAnnotations.INCLUDE_OUTBOUND_IP_RANGES,
        v -> v.equals("*") ? null : cidrs("includeIPRanges", v));
    CHECKS.put(IstioAnnotations.EXCLUDE_OUTBOUND_IP_RANGES, v -> cidrs("excludeIPRanges", v));
    CHECKS.put(
        IstioAnnotations.INCLUDE_INBOUND_PORTS,
        v -> v.equals("*") ? null : ports("includeInboundPorts", v));
    CHECKS.put(IstioAnnotations.EXCLUDE_INBOUND_PORTS, v -> ports("excludeInboundPorts", v));
    CHECKS.put(IstioAnnotations.EXCLUDE_OUTBOUND_PORTS, v -> ports("excludeOutboundPorts", v));
    CHECKS.put(IstioAnnotations.INCLUDE_OUTBOUND_PORTS, v -> ports("includeOutboundPorts", v));
    CHECKS.put(IstioAnnotations.STATUS_PORT, TrafficAnnotations::statusPort);
    CHECKS.put(IstioAnnotations.READINESS_INITIAL_DELAY_SECONDS, TrafficAnnotations::uint32);
    CHECKS.put(IstioAnnotations.READINESS_PERIOD_SECONDS, TrafficAnnotations::uint32);
    CHECKS.put(IstioAnnotations.READINESS_FAILURE_THRESHOLD, TrafficAnnotations::uint32);
    CHECKS.put(
        IstioAnnotations.READINESS_APPLICATION_PORTS,
        v -> v.equals("*") ? null : ports("readinessApplicationPorts", v));
  }

  /** The status port, a number in 0..65535 (0: none); checked by {@link #check} before. */
  static int statusPort(JsonNode annotations, int otherwise) {
    JsonNode v = annotations.path(IstioAnnotations.STATUS_PORT);
    return v.isString() ? Integer.parseInt(v.asString().strip()) : otherwise;
  }

  private static String statusPort(String port) {
    // Istio parses it as an unsigned 16-bit number: 0 is allowed, and means no status server.
    if (!port.matches("[0-9]+")) {
      return "statusPort invalid: port '" + port + "' is not a number";
    }
    if (port.length() > 5 || Integer.parseInt(port) > 65535) {
      return "statusPort invalid: port " + port + " is not in 0..65535";
    }
    return null;
  }

  private static String uint32(String value) {
    if (!value.matches("[0-9]+") || value.length() > 10 || Long.parseLong(value) > 0xFFFFFFFFL) {
      return "'" + value + "' is not an unsigned 32-bit integer";
    }
    // Istio stops at its uint32 check; above this the API server refuses the injected pod, since
    // a probe's fields are int32: said here, naming the annotation, instead.
    if (Long.parseLong(value) > Integer.MAX_VALUE) {
      return value + " is above 2147483647, the largest a probe's field holds";
    }
    return null;
  }

  /** Throws, naming the annotation and its value, when one of them is invalid. */
  static void check(JsonNode annotations) {
    for (var c : CHECKS.entrySet()) {
      JsonNode value = annotations.path(c.getKey());
      if (!value.isString()) {
        continue;
      }
      String problem = c.getValue().apply(value.asString().strip());
      if (problem != null) {
        throw new IllegalArgumentException(
            "invalid value '"
                + value.asString()
                + "' for annotation '"
                + c.getKey()
                + "': "
                + problem);
      }
    }
  }

  private static String ports(String what, String list) {
    if (list.isEmpty()) {
      return null;
    }
    for (String p : list.split(",")) {
      String port = p.strip();
      int n;
      try {
        n = Integer.parseInt(port);
      } catch (NumberFormatException e) {
        return what + " invalid: port '" + port + "' is not a number";
      }
      if (n < 1 || n > 65535) {
        return what + " invalid: port " + n + " is not in 1..65535";
      }
    }
    return null;
  }

  private static String cidrs(String what, String list) {
    if (list.isEmpty()) {
      return null;
    }
    for (String c : list.split(",")) {
      String cidr = c.strip();
      if (!validCidr(cidr)) {
        return what + " invalid: failed parsing cidr '" + cidr + "'";
      }
    }
    return null;
  }

  /** An IPv4 or IPv6 prefix, address/length, with no name lookup. */
  static boolean validCidr(String cidr) {
    int slash = cidr.indexOf('/');
    if (slash < 0 || slash != cidr.lastIndexOf('/')) {
      return false;
    }
    String address = cidr.substring(0, slash);
    int bits;
    try {
      bits = Integer.parseInt(cidr.substring(slash + 1));
    } catch (NumberFormatException e) {
      return false;
    }
    if (address.contains(":")) {
      // Only hex digits, colons and dots (an embedded IPv4) reach the parser: never a host name.
      if (!address.matches("[0-9a-fA-F:.]+")) {
        return false;
      }
      try {
        java.net.InetAddress.getByName(address);
      } catch (java.net.UnknownHostException e) {
        return false;
      }
      return bits >= 0 && bits <= 128;
    }
    String[] octets = address.split("\\.", -1);
    if (octets.length != 4) {
      return false;
    }
    for (String o : octets) {
      if (!o.matches("\\d{1,3}") || Integer.parseInt(o) > 255) {
        return false;
      }
    }
    return bits >= 0 && bits <= 32;
  }
}
