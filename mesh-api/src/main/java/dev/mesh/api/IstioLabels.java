package dev.mesh.api;

/** Labels with Istio's names, so that users' namespaces and workloads keep their meaning. */
public final class IstioLabels {
  private IstioLabels() {}

  /** Namespace label: {@code enabled} or {@code disabled}. */
  public static final String INJECTION = "istio-injection";

  /** Namespace or pod label choosing a control plane revision. */
  public static final String REVISION = "istio.io/rev";

  /** Pod label (and annotation) overriding the namespace's injection choice. */
  public static final String SIDECAR_INJECT = "sidecar.istio.io/inject";

  public static final String CANONICAL_NAME = "service.istio.io/canonical-name";
  public static final String CANONICAL_REVISION = "service.istio.io/canonical-revision";
  public static final String TLS_MODE = "security.istio.io/tlsMode";
  public static final String NETWORK = "topology.istio.io/network";

  /** The conventional workload labels Istio reads for telemetry and subsets. */
  public static final String APP = "app";

  public static final String VERSION = "version";
  public static final String K8S_APP_NAME = "app.kubernetes.io/name";
  public static final String K8S_APP_VERSION = "app.kubernetes.io/version";

  public static final String INJECTION_ENABLED = "enabled";
  public static final String INJECTION_DISABLED = "disabled";
}
