package dev.mesh.pilot.security.mtls;

import dev.mesh.config.networking.DestinationRuleSpec;
import dev.mesh.config.networking.DestinationRuleSpec.ClientTLSSettings;
import dev.mesh.config.networking.DestinationRuleSpec.PortTrafficPolicy;
import dev.mesh.config.networking.DestinationRuleSpec.TrafficPolicy;

/**
 * The {@code tls} a DestinationRule sets for one cluster, as Istio merges traffic policies: the
 * rule's, overridden by its port-level settings for the port, then by the subset's, then by the
 * subset's port-level settings; null when none of them sets it (auto mTLS decides then).
 */
public final class ClientTlsPolicy {
  private ClientTlsPolicy() {}

  public static ClientTLSSettings of(DestinationRuleSpec rule, String subset, int port) {
    if (rule == null) {
      return null;
    }
    ClientTLSSettings tls = of(rule.trafficPolicy, port, null);
    if (subset != null && rule.subsets != null) {
      for (var s : rule.subsets) {
        if (subset.equals(s.name)) {
          tls = of(s.trafficPolicy, port, tls);
        }
      }
    }
    return tls;
  }

  private static ClientTLSSettings of(TrafficPolicy policy, int port, ClientTLSSettings parent) {
    if (policy == null) {
      return parent;
    }
    ClientTLSSettings tls = policy.tls != null ? policy.tls : parent;
    if (policy.portLevelSettings != null) {
      for (PortTrafficPolicy p : policy.portLevelSettings) {
        if (p.port != null && p.port.number != null && p.port.number == port && p.tls != null) {
          tls = p.tls;
        }
      }
    }
    return tls;
  }
}
