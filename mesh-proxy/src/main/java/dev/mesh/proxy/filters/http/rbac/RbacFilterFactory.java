package dev.mesh.proxy.filters.http.rbac;

import com.google.protobuf.Message;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.filters.common.rbac.RbacEngine;
import dev.mesh.proxy.filters.common.rbac.RbacStats;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBAC;
import io.envoyproxy.envoy.extensions.filters.http.rbac.v3.RBACPerRoute;

/**
 * envoy.filters.http.rbac: rules enforced on each request (a 403 when denied), shadow rules only
 * counted, and a route's RBACPerRoute in place of the filter's rules (an empty one disables it).
 */
public final class RbacFilterFactory implements HttpFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.http.rbac";
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
  public Message perRouteConfig() {
    return RBACPerRoute.getDefaultInstance();
  }

  @Override
  public String supportedFields() {
    return """
        envoy.extensions.filters.http.rbac.v3.RBAC: rules shadow_rules rules_stat_prefix \\
          shadow_rules_stat_prefix
        envoy.extensions.filters.http.rbac.v3.RBACPerRoute: rbac
        """
        + RbacEngine.SUPPORTED_FIELDS;
  }

  @Override
  public HttpFilterConfig compile(Message config, HttpFilterContext context) {
    if (!(config instanceof RBAC rbac)) {
      throw new ConfigRejectedException(
          name()
              + ": typed_config must be an RBAC, not "
              + config.getDescriptorForType().getFullName());
    }
    RbacFilter.Rules rules = rules(rbac, "envoy.filters.http.rbac");
    RbacStats stats =
        RbacStats.of(
            context.stats(),
            Stats.Scope.http(context.statPrefix()),
            rbac.getRulesStatPrefix(),
            rbac.getShadowRulesStatPrefix());
    return () -> new RbacFilter(rules, stats);
  }

  @Override
  public Object compilePerRoute(Message config) {
    if (!(config instanceof RBACPerRoute perRoute)) {
      throw new ConfigRejectedException(
          "typed_per_filter_config for "
              + name()
              + " must be an RBACPerRoute, not "
              + config.getDescriptorForType().getFullName());
    }
    return rules(perRoute.getRbac(), "RBACPerRoute.rbac");
  }

  private static RbacFilter.Rules rules(RBAC rbac, String at) {
    return new RbacFilter.Rules(
        RbacEngine.of(rbac.hasRules(), rbac.getRules(), at + ".rules"),
        RbacEngine.of(rbac.hasShadowRules(), rbac.getShadowRules(), at + ".shadow_rules"),
        rbac.getRulesStatPrefix(),
        rbac.getShadowRulesStatPrefix());
  }
}
