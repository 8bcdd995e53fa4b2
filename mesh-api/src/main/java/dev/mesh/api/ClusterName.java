package dev.mesh.api;

import java.util.Objects;

/**
 * An Istio cluster name, {@code direction|port|subset|host}: {@code
 * outbound|9080|v2|reviews.default.svc.cluster.local} or, for the pod's own ports, {@code
 * inbound|9080||}.
 */
public record ClusterName(Direction direction, int port, String subset, String host) {

  public enum Direction {
    INBOUND("inbound"),
    OUTBOUND("outbound");

    private final String text;

    Direction(String text) {
      this.text = text;
    }

    public String text() {
      return text;
    }
  }

  public ClusterName {
    Objects.requireNonNull(direction, "direction");
    Ports.check(port, "cluster port");
    subset = subset == null ? "" : subset;
    host = host == null ? "" : host;
    if (subset.indexOf('|') >= 0 || host.indexOf('|') >= 0) {
      throw new IllegalArgumentException("cluster subset and host must not contain '|'");
    }
    if (direction == Direction.OUTBOUND && host.isEmpty()) {
      throw new IllegalArgumentException("an outbound cluster needs a host");
    }
  }

  public static ClusterName outbound(int port, String subset, String host) {
    return new ClusterName(Direction.OUTBOUND, port, subset, host);
  }

  public static ClusterName outbound(int port, String host) {
    return outbound(port, "", host);
  }

  public static ClusterName inbound(int port) {
    return new ClusterName(Direction.INBOUND, port, "", "");
  }

  /** Parses an Istio cluster name; throws IllegalArgumentException naming what is wrong. */
  public static ClusterName parse(String name) {
    Objects.requireNonNull(name, "name");
    String[] parts = name.split("\\|", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException(
          "cluster name '" + name + "' is not of the form direction|port|subset|host");
    }
    Direction direction =
        switch (parts[0]) {
          case "inbound" -> Direction.INBOUND;
          case "outbound" -> Direction.OUTBOUND;
          default ->
              throw new IllegalArgumentException(
                  "cluster name '"
                      + name
                      + "': direction must be inbound or outbound, got '"
                      + parts[0]
                      + "'");
        };
    try {
      return new ClusterName(direction, Ports.parse(parts[1], "port"), parts[2], parts[3]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("cluster name '" + name + "': " + e.getMessage(), e);
    }
  }

  public boolean hasSubset() {
    return !subset.isEmpty();
  }

  @Override
  public String toString() {
    return direction.text() + "|" + port + "|" + subset + "|" + host;
  }
}
