package dev.mesh.proxy.filters.http.healthcheck;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.route.RouteEntry;
import io.envoyproxy.envoy.extensions.filters.http.health_check.v3.HealthCheck;
import java.util.List;
import java.util.function.Predicate;

/**
 * Envoy's health check HTTP filter: requests matching its headers are health checks. Without
 * pass-through the proxy answers them itself, 200, or 503 while the server fails health checks
 * (POST /healthcheck/fail) or drains; with pass-through they go to the app unless failing.
 */
final class HealthCheckMatcher {
  private final boolean passThrough;
  private final List<Predicate<RequestView>> matchers;

  HealthCheckMatcher(HealthCheck config) {
    if (!config.hasPassThroughMode()) {
      throw new ConfigRejectedException("health check filter: pass_through_mode is required");
    }
    this.passThrough = config.getPassThroughMode().getValue();
    this.matchers = config.getHeadersList().stream().map(RouteEntry::headerMatcher).toList();
  }

  /** The status to answer this request with, or null to let it through. */
  Integer respond(RequestView request, boolean failing) {
    if (matchers.isEmpty() || !matchers.stream().allMatch(m -> m.test(request))) {
      return null;
    }
    if (failing) {
      return 503;
    }
    return passThrough ? null : 200;
  }
}
