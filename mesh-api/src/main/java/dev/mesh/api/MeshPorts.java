package dev.mesh.api;

/** The ports of the mesh. They are Istio's, so scrape configs, probes and habits carry over. */
public final class MeshPorts {
  private MeshPorts() {}

  /** Proxy admin, bound to localhost only: /config_dump, /clusters, /stats, /ready. */
  public static final int PROXY_ADMIN = 15000;

  /** Outbound capture: iptables redirects the app's outgoing TCP here ({@code virtualOutbound}). */
  public static final int OUTBOUND_CAPTURE = 15001;

  /** Inbound capture: iptables redirects TCP arriving for the pod here ({@code virtualInbound}). */
  public static final int INBOUND_CAPTURE = 15006;

  /** Agent: merged Prometheus metrics, app probe rewriting, /quitquitquit. */
  public static final int AGENT_STATUS = 15020;

  /** Agent: /healthz/ready, the sidecar's readiness. */
  public static final int AGENT_HEALTH = 15021;

  /** Proxy: /stats/prometheus. */
  public static final int PROXY_PROMETHEUS = 15090;

  /** Pilot: xDS over plaintext gRPC. */
  public static final int PILOT_XDS_PLAINTEXT = 15010;

  /** Pilot: xDS and the CA over TLS. */
  public static final int PILOT_XDS_TLS = 15012;

  /** Pilot: monitoring and debug (/metrics, /debug/syncz, /debug/config_dump). */
  public static final int PILOT_MONITORING = 15014;

  /** Injector: the mutating admission webhook over HTTPS. */
  public static final int INJECTOR_WEBHOOK = 15017;

  /** Ports of the sidecar itself that capture must never redirect. */
  public static final int[] SIDECAR_OWN_PORTS = {AGENT_STATUS, AGENT_HEALTH, PROXY_PROMETHEUS};
}
