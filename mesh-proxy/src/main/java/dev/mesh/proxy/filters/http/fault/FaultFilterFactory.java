package dev.mesh.proxy.filters.http.fault;

import com.google.protobuf.Message;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;

/** envoy.filters.http.fault, configured on the filter and overridden per route (as Istio does). */
public final class FaultFilterFactory implements HttpFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.http.fault";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + HTTPFault.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return HTTPFault.getDefaultInstance();
  }

  @Override
  public String supportedFields() {
    return """
        envoy.extensions.filters.http.fault.v3.HTTPFault: delay abort headers upstream_cluster
        envoy.extensions.filters.common.fault.v3.FaultDelay: fixed_delay header_delay percentage
        envoy.extensions.filters.http.fault.v3.FaultAbort: http_status grpc_status header_abort \\
          percentage
        envoy.type.v3.FractionalPercent: numerator denominator
        """;
  }

  @Override
  public HttpFilterConfig compile(Message config, HttpFilterContext context) {
    Stats.Scope s = Stats.Scope.http(context.statPrefix());
    FaultFilter.Config compiled =
        new FaultFilter.Config(
            new FaultInjection((HTTPFault) config),
            context.stats().counter(s, "fault.aborts_injected"),
            context.stats().counter(s, "fault.delays_injected"));
    return () -> new FaultFilter(compiled);
  }

  @Override
  public Object compilePerRoute(Message config) {
    return new FaultInjection((HTTPFault) config);
  }
}
