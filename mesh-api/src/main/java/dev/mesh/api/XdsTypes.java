package dev.mesh.api;

/** The xDS v3 resource type URLs, as DiscoveryRequest and DiscoveryResponse carry them. */
public final class XdsTypes {
  private XdsTypes() {}

  private static final String PREFIX = "type.googleapis.com/";

  public static final String CLUSTER = PREFIX + "envoy.config.cluster.v3.Cluster";
  public static final String ENDPOINT = PREFIX + "envoy.config.endpoint.v3.ClusterLoadAssignment";
  public static final String LISTENER = PREFIX + "envoy.config.listener.v3.Listener";
  public static final String ROUTE = PREFIX + "envoy.config.route.v3.RouteConfiguration";
  public static final String SECRET = PREFIX + "envoy.extensions.transport_sockets.tls.v3.Secret";

  /** The four types of a sidecar's traffic config, in the order a control plane sends them. */
  public static final java.util.List<String> TRAFFIC =
      java.util.List.of(CLUSTER, ENDPOINT, LISTENER, ROUTE);

  /** The short name Envoy and Istio print for a type URL (CDS, EDS, LDS, RDS, SDS). */
  public static String shortName(String typeUrl) {
    return switch (typeUrl) {
      case CLUSTER -> "CDS";
      case ENDPOINT -> "EDS";
      case LISTENER -> "LDS";
      case ROUTE -> "RDS";
      case SECRET -> "SDS";
      default -> typeUrl;
    };
  }
}
