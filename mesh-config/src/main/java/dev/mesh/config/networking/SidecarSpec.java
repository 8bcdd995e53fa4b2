package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;
import java.util.List;

/** The spec of a Sidecar, with Istio's field names and shapes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class SidecarSpec {
  public WorkloadSelector workloadSelector;
  public List<IstioIngressListener> ingress;
  public List<IstioEgressListener> egress;
  public DestinationRuleSpec.ConnectionPoolSettings inboundConnectionPool;
  public OutboundTrafficPolicy outboundTrafficPolicy;

  public enum CaptureMode {
    DEFAULT,
    IPTABLES,
    NONE
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class IstioIngressListener {
    @Required public Port port;
    public String bind;
    public CaptureMode captureMode;
    public String defaultEndpoint;
    public GatewaySpec.ServerTLSSettings tls;
    public DestinationRuleSpec.ConnectionPoolSettings connectionPool;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class IstioEgressListener {
    public Port port;
    public String bind;
    public CaptureMode captureMode;
    @Required public List<String> hosts;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class OutboundTrafficPolicy {
    public Mode mode;
    public Destination egressProxy;

    public enum Mode {
      REGISTRY_ONLY,
      ALLOW_ANY
    }
  }
}
