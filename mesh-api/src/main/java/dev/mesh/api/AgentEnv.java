package dev.mesh.api;

/**
 * Environment variable names of the sidecar's agent, as Istio's injector sets them (mostly from the
 * downward API), so that an injected pod reads the same in both meshes.
 */
public final class AgentEnv {
  private AgentEnv() {}

  public static final String POD_NAME = "POD_NAME";
  public static final String POD_NAMESPACE = "POD_NAMESPACE";
  public static final String INSTANCE_IP = "INSTANCE_IP";
  public static final String SERVICE_ACCOUNT = "SERVICE_ACCOUNT";
  public static final String HOST_IP = "HOST_IP";

  /** ProxyConfig as JSON; its {@code discoveryAddress} is pilot's address. */
  public static final String PROXY_CONFIG = "PROXY_CONFIG";

  /** Every variable with this prefix is copied into the proxy's node metadata, without it. */
  public static final String META_PREFIX = "ISTIO_META_";

  public static final String META_WORKLOAD_NAME = "ISTIO_META_WORKLOAD_NAME";
  public static final String META_OWNER = "ISTIO_META_OWNER";
  public static final String META_INTERCEPTION_MODE = "ISTIO_META_INTERCEPTION_MODE";
  public static final String META_CLUSTER_ID = "ISTIO_META_CLUSTER_ID";
  public static final String META_MESH_ID = "ISTIO_META_MESH_ID";
  public static final String META_APP_CONTAINERS = "ISTIO_META_APP_CONTAINERS";
  public static final String META_POD_PORTS = "ISTIO_META_POD_PORTS";
  public static final String META_NODE_NAME = "ISTIO_META_NODE_NAME";

  /** The app's original scrape target, since the injector points prometheus.io/* at 15020. */
  public static final String PROMETHEUS_ANNOTATIONS = "ISTIO_PROMETHEUS_ANNOTATIONS";

  /** The app's original HTTP probes, since the injector rewrites them to 15020. */
  public static final String KUBE_APP_PROBERS = "ISTIO_KUBE_APP_PROBERS";

  public static final String EXIT_ON_ZERO_ACTIVE_CONNECTIONS = "EXIT_ON_ZERO_ACTIVE_CONNECTIONS";
  public static final String TERMINATION_DRAIN_DURATION_SECONDS =
      "TERMINATION_DRAIN_DURATION_SECONDS";
  public static final String TRUST_DOMAIN = "TRUST_DOMAIN";
  public static final String CA_ADDR = "CA_ADDR";
  public static final String CPU_LIMIT = "ISTIO_CPU_LIMIT";
}
