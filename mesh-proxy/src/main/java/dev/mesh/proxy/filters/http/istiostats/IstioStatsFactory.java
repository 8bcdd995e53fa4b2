package dev.mesh.proxy.filters.http.istiostats;

import com.google.protobuf.Message;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import dev.mesh.proxy.istio.IstioStandardMetrics;
import dev.mesh.proxy.istio.Workload;

/** Istio's istio.stats HTTP filter, configured as Istio writes it: a TypedStruct. */
public final class IstioStatsFactory implements HttpFilterFactory {
  public static final String TYPE_URL = "type.googleapis.com/stats.PluginConfig";

  @Override
  public String name() {
    return "istio.stats";
  }

  @Override
  public String configTypeUrl() {
    return TYPE_URL;
  }

  @Override
  public Message defaultConfig() {
    return null;
  }

  @Override
  public HttpFilterConfig compile(Message config, HttpFilterContext context) {
    IstioStandardMetrics metrics = new IstioStandardMetrics(context.stats().labelled());
    Workload self = Workload.of(context.node().getMetadata());
    boolean inbound = context.inbound();
    return () -> new IstioStatsFilter(metrics, self, inbound);
  }
}
