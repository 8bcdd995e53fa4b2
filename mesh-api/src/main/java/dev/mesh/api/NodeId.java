package dev.mesh.api;

import java.util.Objects;

/**
 * A proxy's node id as Istio writes it, {@code type~ip~id~domain}, for a sidecar {@code
 * sidecar~10.1.2.3~reviews-v1-abc.default~default.svc.cluster.local}: pilot derives the proxy's
 * pod, namespace and DNS search domain from it.
 */
public record NodeId(Type type, String ipAddress, String id, String dnsDomain) {

  public static final String DEFAULT_CLUSTER_DOMAIN = "cluster.local";

  public enum Type {
    SIDECAR("sidecar"),
    ROUTER("router");

    private final String text;

    Type(String text) {
      this.text = text;
    }

    public String text() {
      return text;
    }

    static Type parse(String text) {
      for (Type t : values()) {
        if (t.text.equals(text)) {
          return t;
        }
      }
      throw new IllegalArgumentException("type must be sidecar or router, got '" + text + "'");
    }
  }

  public NodeId {
    Objects.requireNonNull(type, "type");
    if (!IpAddresses.isLiteral(ipAddress)) {
      throw new IllegalArgumentException("'" + ipAddress + "' is not an IP address");
    }
    if (id == null || id.isEmpty() || id.indexOf('~') >= 0) {
      throw new IllegalArgumentException("id must be non-empty and without '~', got '" + id + "'");
    }
    if (dnsDomain == null || dnsDomain.indexOf('~') >= 0) {
      throw new IllegalArgumentException("dns domain must not contain '~'");
    }
  }

  /** The node id of a pod's sidecar in the default cluster domain. */
  public static NodeId sidecar(String podIp, String podName, String namespace) {
    return new NodeId(
        Type.SIDECAR,
        podIp,
        podName + "." + namespace,
        namespace + ".svc." + DEFAULT_CLUSTER_DOMAIN);
  }

  /** Parses a node id; throws IllegalArgumentException naming what is wrong. */
  public static NodeId parse(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    String[] parts = nodeId.split("~", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException(
          "node id '" + nodeId + "' is not of the form type~ip~id~domain");
    }
    try {
      return new NodeId(Type.parse(parts[0]), parts[1], parts[2], parts[3]);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("node id '" + nodeId + "': " + e.getMessage(), e);
    }
  }

  /**
   * The pod name: the id up to its last dot. Namespaces are DNS labels and never hold a dot, pod
   * names may.
   */
  public String podName() {
    int dot = id.lastIndexOf('.');
    return dot < 0 ? id : id.substring(0, dot);
  }

  /** The namespace: the id after its last dot, or empty when the id has none. */
  public String namespace() {
    int dot = id.lastIndexOf('.');
    return dot < 0 ? "" : id.substring(dot + 1);
  }

  @Override
  public String toString() {
    return type.text() + "~" + ipAddress + "~" + id + "~" + dnsDomain;
  }
}
