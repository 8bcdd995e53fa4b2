package dev.mesh.config.mesh;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * Istio's MeshConfig: mesh-wide settings, read from the {@code mesh} key of the mesh ConfigMap.
 * Settings we do not act on yet are accepted and kept as they are.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class MeshConfig {
  public Integer proxyListenPort;
  public Integer proxyInboundListenPort;
  public Integer proxyHttpPort;
  public String connectTimeout;
  public String protocolDetectionTimeout;
  public String ingressClass;
  public String ingressService;
  public Boolean enableTracing;
  public String accessLogFile;
  public String accessLogFormat;
  public AccessLogEncoding accessLogEncoding;
  public ProxyConfig defaultConfig;
  public OutboundTrafficPolicy outboundTrafficPolicy;
  public InboundTrafficPolicy inboundTrafficPolicy;
  public String rootNamespace;
  public String trustDomain;
  public List<String> trustDomainAliases;
  public Boolean enableAutoMtls;
  public List<String> defaultServiceExportTo;
  public List<String> defaultVirtualServiceExportTo;
  public List<String> defaultDestinationRuleExportTo;
  public String dnsRefreshRate;
  public String h2UpgradePolicy;
  public Boolean enablePrometheusMerge;
  public String inboundClusterStatName;
  public String outboundClusterStatName;
  public Map<String, Object> localityLbSetting;
  public List<Map<String, Object>> extensionProviders;
  public Map<String, Object> defaultProviders;
  public List<Map<String, Object>> discoverySelectors;
  public Map<String, Object> meshMTLS;
  public Map<String, Object> tlsDefaults;
  public Map<String, Object> pathNormalization;

  public enum AccessLogEncoding {
    TEXT,
    JSON
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class OutboundTrafficPolicy {
    public Mode mode;

    public enum Mode {
      REGISTRY_ONLY,
      ALLOW_ANY
    }
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class InboundTrafficPolicy {
    public Mode mode;

    public enum Mode {
      PASSTHROUGH,
      LOCALHOST
    }
  }

  /** Istio's defaults, with our control plane's namespace as the root namespace. */
  public static MeshConfig defaults() {
    MeshConfig m = new MeshConfig();
    m.proxyListenPort = 15001;
    m.proxyInboundListenPort = 15006;
    m.connectTimeout = "10s";
    m.protocolDetectionTimeout = "0s";
    m.enableTracing = false;
    m.accessLogFile = "";
    m.accessLogEncoding = AccessLogEncoding.TEXT;
    m.defaultConfig = ProxyConfig.defaults();
    m.outboundTrafficPolicy = new OutboundTrafficPolicy();
    m.outboundTrafficPolicy.mode = OutboundTrafficPolicy.Mode.ALLOW_ANY;
    m.rootNamespace = "mesh-system";
    m.trustDomain = "cluster.local";
    m.enableAutoMtls = true;
    m.enablePrometheusMerge = true;
    return m;
  }
}
