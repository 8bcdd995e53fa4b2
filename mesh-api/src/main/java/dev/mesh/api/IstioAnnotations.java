package dev.mesh.api;

/** Pod annotations with Istio's names; their values mean what they mean to Istio. */
public final class IstioAnnotations {
  private IstioAnnotations() {}

  public static final String SIDECAR_INJECT = "sidecar.istio.io/inject";

  /** Set by the injector on every pod it injected; its presence means "already injected". */
  public static final String SIDECAR_STATUS = "sidecar.istio.io/status";

  public static final String INTERCEPTION_MODE = "sidecar.istio.io/interceptionMode";
  public static final String PROXY_CPU = "sidecar.istio.io/proxyCPU";
  public static final String PROXY_CPU_LIMIT = "sidecar.istio.io/proxyCPULimit";
  public static final String PROXY_MEMORY = "sidecar.istio.io/proxyMemory";
  public static final String PROXY_MEMORY_LIMIT = "sidecar.istio.io/proxyMemoryLimit";
  public static final String PROXY_IMAGE = "sidecar.istio.io/proxyImage";
  public static final String LOG_LEVEL = "sidecar.istio.io/logLevel";
  public static final String COMPONENT_LOG_LEVEL = "sidecar.istio.io/componentLogLevel";
  public static final String AGENT_LOG_LEVEL = "sidecar.istio.io/agentLogLevel";
  public static final String REWRITE_APP_HTTP_PROBERS = "sidecar.istio.io/rewriteAppHTTPProbers";
  public static final String BOOTSTRAP_OVERRIDE = "sidecar.istio.io/bootstrapOverride";
  public static final String USER_VOLUME = "sidecar.istio.io/userVolume";
  public static final String USER_VOLUME_MOUNT = "sidecar.istio.io/userVolumeMount";
  public static final String ENABLE_CORE_DUMP = "sidecar.istio.io/enableCoreDump";
  public static final String NATIVE_SIDECAR = "sidecar.istio.io/nativeSidecar";

  /** The agent's status port (Istio's default 15020); 0: no status server, no probe rewriting. */
  public static final String STATUS_PORT = "status.sidecar.istio.io/port";

  /** The istio-proxy container's readinessProbe, as Istio's template sets it from these. */
  public static final String READINESS_INITIAL_DELAY_SECONDS =
      "readiness.status.sidecar.istio.io/initialDelaySeconds";

  public static final String READINESS_PERIOD_SECONDS =
      "readiness.status.sidecar.istio.io/periodSeconds";
  public static final String READINESS_FAILURE_THRESHOLD =
      "readiness.status.sidecar.istio.io/failureThreshold";

  /** Checked as Istio once did; nothing reads it, in Istio's agent today or ours. */
  public static final String READINESS_APPLICATION_PORTS =
      "readiness.status.sidecar.istio.io/applicationPorts";

  public static final String INCLUDE_INBOUND_PORTS = "traffic.sidecar.istio.io/includeInboundPorts";
  public static final String EXCLUDE_INBOUND_PORTS = "traffic.sidecar.istio.io/excludeInboundPorts";
  public static final String INCLUDE_OUTBOUND_PORTS =
      "traffic.sidecar.istio.io/includeOutboundPorts";
  public static final String EXCLUDE_OUTBOUND_PORTS =
      "traffic.sidecar.istio.io/excludeOutboundPorts";
  public static final String INCLUDE_OUTBOUND_IP_RANGES =
      "traffic.sidecar.istio.io/includeOutboundIPRanges";
  public static final String EXCLUDE_OUTBOUND_IP_RANGES =
      "traffic.sidecar.istio.io/excludeOutboundIPRanges";

  /** A ProxyConfig (YAML or JSON) overriding the mesh's defaultConfig for this pod. */
  public static final String PROXY_CONFIG = "proxy.istio.io/config";

  public static final String MERGE_METRICS = "prometheus.istio.io/merge-metrics";
  public static final String INJECT_TEMPLATES = "inject.istio.io/templates";

  /** The Prometheus scrape annotations, which the injector points at the agent's port 15020. */
  public static final String PROMETHEUS_SCRAPE = "prometheus.io/scrape";

  public static final String PROMETHEUS_PORT = "prometheus.io/port";
  public static final String PROMETHEUS_PATH = "prometheus.io/path";
}
