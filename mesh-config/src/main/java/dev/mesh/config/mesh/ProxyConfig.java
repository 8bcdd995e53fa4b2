package dev.mesh.config.mesh;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * Istio's ProxyConfig: how one sidecar is run. It comes from MeshConfig's defaultConfig, overridden
 * per pod by the {@code proxy.istio.io/config} annotation, and reaches the agent as PROXY_CONFIG.
 * Fields that change no behaviour of ours yet (tracing, ...) are accepted and kept as they are.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProxyConfig {
  public String configPath;
  public String binaryPath;
  public String serviceCluster;
  public String drainDuration;
  public String terminationDrainDuration;
  public String discoveryAddress;
  public Integer proxyAdminPort;
  public Integer statusPort;
  public ControlPlaneAuthPolicy controlPlaneAuthPolicy;
  public Integer statNameLength;
  public Integer concurrency;
  public InterceptionMode interceptionMode;
  public Map<String, String> proxyMetadata;
  public Boolean holdApplicationUntilProxyStarts;
  public String meshId;
  public List<String> extraStatTags;
  public ProxyStatsMatcher proxyStatsMatcher;
  public Map<String, Object> tracing;
  public Map<String, Object> gatewayTopology;
  public Map<String, Object> readinessProbe;
  public Map<String, Object> image;
  public Map<String, Object> proxyHeaders;

  public enum ControlPlaneAuthPolicy {
    NONE,
    MUTUAL_TLS
  }

  public enum InterceptionMode {
    REDIRECT,
    TPROXY,
    NONE
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ProxyStatsMatcher {
    public List<String> inclusionPrefixes;
    public List<String> inclusionSuffixes;
    public List<String> inclusionRegexps;
  }

  /**
   * The mesh's defaults for every sidecar, as Istio's are, with pilot at its in-cluster address.
   */
  public static ProxyConfig defaults() {
    ProxyConfig c = new ProxyConfig();
    c.discoveryAddress = "mesh-pilot.mesh-system.svc:15012";
    c.drainDuration = "45s";
    c.terminationDrainDuration = "5s";
    c.proxyAdminPort = 15000;
    c.statusPort = 15020;
    c.concurrency = 2;
    c.interceptionMode = InterceptionMode.REDIRECT;
    c.holdApplicationUntilProxyStarts = false;
    c.controlPlaneAuthPolicy = ControlPlaneAuthPolicy.NONE;
    return c;
  }
}
