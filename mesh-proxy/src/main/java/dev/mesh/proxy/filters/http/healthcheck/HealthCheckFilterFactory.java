package dev.mesh.proxy.filters.http.healthcheck;

import com.google.protobuf.Message;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import io.envoyproxy.envoy.extensions.filters.http.health_check.v3.HealthCheck;

/** envoy.filters.http.health_check: gives /healthcheck/fail and /healthcheck/ok their meaning. */
public final class HealthCheckFilterFactory implements HttpFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.http.health_check";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + HealthCheck.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return HealthCheck.getDefaultInstance();
  }

  @Override
  public String supportedFields() {
    return "envoy.extensions.filters.http.health_check.v3.HealthCheck: pass_through_mode headers";
  }

  @Override
  public HttpFilterConfig compile(Message config, HttpFilterContext context) {
    HealthCheckMatcher matcher = new HealthCheckMatcher((HealthCheck) config);
    return () -> new HealthCheckFilter(matcher, context.failingHealthChecks());
  }
}
