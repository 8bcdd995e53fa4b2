package dev.mesh.proxy.filters.network.rbac;

import com.google.protobuf.Message;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.filters.common.rbac.RbacEngine;
import dev.mesh.proxy.filters.common.rbac.RbacStats;
import dev.mesh.proxy.network.NetworkFilter;
import dev.mesh.proxy.network.NetworkFilterContext;
import dev.mesh.proxy.network.NetworkFilterFactory;
import io.envoyproxy.envoy.extensions.filters.network.rbac.v3.RBAC;

/**
 * envoy.filters.network.rbac: a connection checked on its first bytes (or on every read with
 * CONTINUOUS enforcement) and closed when the rules deny it; shadow rules only counted.
 */
public final class NetworkRbacFactory implements NetworkFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.network.rbac";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + RBAC.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return RBAC.getDefaultInstance();
  }

  @Override
  public String supportedFields() {
    return """
        envoy.extensions.filters.network.rbac.v3.RBAC: rules shadow_rules stat_prefix \\
          shadow_rules_stat_prefix enforcement_type
        """
        + RbacEngine.SUPPORTED_FIELDS;
  }

  @Override
  public boolean terminal() {
    return false;
  }

  @Override
  public NetworkFilter compile(Message config, NetworkFilterContext context) {
    RBAC rbac = (RBAC) config;
    String at = name();
    if (rbac.getStatPrefix().isEmpty()) {
      throw new ConfigRejectedException(at + ".stat_prefix: must be set");
    }
    if (rbac.getEnforcementType() == RBAC.EnforcementType.UNRECOGNIZED) {
      throw new ConfigRejectedException(at + ".enforcement_type: unknown value");
    }
    NetworkRbacHandler.Config compiled =
        new NetworkRbacHandler.Config(
            RbacEngine.of(rbac.hasRules(), rbac.getRules(), at + ".rules"),
            RbacEngine.of(rbac.hasShadowRules(), rbac.getShadowRules(), at + ".shadow_rules"),
            rbac.getEnforcementType() == RBAC.EnforcementType.CONTINUOUS,
            RbacStats.of(context.stats(), rbac.getStatPrefix(), rbac.getShadowRulesStatPrefix()));
    if (compiled.enforced() == null && compiled.shadow() == null) {
      return (ch, info) -> {};
    }
    return (ch, info) -> ch.pipeline().addLast(new NetworkRbacHandler(compiled, info));
  }
}
