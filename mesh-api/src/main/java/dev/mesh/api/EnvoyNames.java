package dev.mesh.api;

/** Names of Envoy resources as Istio generates them, so that config dumps read the same. */
public final class EnvoyNames {
  private EnvoyNames() {}

  public static final String VIRTUAL_OUTBOUND_LISTENER = "virtualOutbound";
  public static final String VIRTUAL_INBOUND_LISTENER = "virtualInbound";

  public static final String PASSTHROUGH_CLUSTER = "PassthroughCluster";
  public static final String BLACKHOLE_CLUSTER = "BlackHoleCluster";
  public static final String INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster";

  /** The bootstrap's cluster that reaches pilot. */
  public static final String XDS_CLUSTER = "xds-grpc";

  /** The bootstrap's cluster that reaches the agent's SDS server (the workload's secrets). */
  public static final String SDS_CLUSTER = "sds-grpc";

  /** SDS secret names: the workload's certificate and the mesh's root. */
  public static final String SECRET_WORKLOAD = "default";

  public static final String SECRET_ROOT_CA = "ROOTCA";

  /** Outbound listener for every address on a port: {@code 0.0.0.0_9080}. */
  public static String wildcardListener(int port) {
    return listener("0.0.0.0", port);
  }

  /** Listener for one address and port: {@code 10.96.0.10_9080}. */
  public static String listener(String address, int port) {
    Ports.check(port, "port");
    return address + "_" + port;
  }

  /** Outbound HTTP route configurations are named by port alone: {@code 9080}. */
  public static String routeConfig(int port) {
    Ports.check(port, "port");
    return Integer.toString(port);
  }
}
