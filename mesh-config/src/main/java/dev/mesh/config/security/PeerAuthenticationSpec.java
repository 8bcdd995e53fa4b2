package dev.mesh.config.security;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/** The spec of a PeerAuthentication, with Istio's field names and shapes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PeerAuthenticationSpec {
  public WorkloadLabelSelector selector;
  public MutualTLS mtls;
  public Map<String, MutualTLS> portLevelMtls;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class MutualTLS {
    public Mode mode;

    public enum Mode {
      UNSET,
      DISABLE,
      PERMISSIVE,
      STRICT
    }
  }
}
