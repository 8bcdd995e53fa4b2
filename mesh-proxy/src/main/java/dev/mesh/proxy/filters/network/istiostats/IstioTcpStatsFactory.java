package dev.mesh.proxy.filters.network.istiostats;

import com.google.protobuf.Message;
import dev.mesh.proxy.istio.IstioStandardMetrics;
import dev.mesh.proxy.istio.Workload;
import dev.mesh.proxy.network.NetworkFilter;
import dev.mesh.proxy.network.NetworkFilterContext;
import dev.mesh.proxy.network.NetworkFilterFactory;
import dev.mesh.proxy.stats.LabelledMetrics;

/**
 * Istio's istio.stats as a network filter before tcp_proxy: istio_tcp_connections_opened_total when
 * the upstream connection is up (the destination service is known then), and the closed count and
 * bytes each way when the connection ends.
 */
public final class IstioTcpStatsFactory implements NetworkFilterFactory {
  @Override
  public String name() {
    return "istio.stats";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/stats.PluginConfig";
  }

  @Override
  public Message defaultConfig() {
    return null;
  }

  @Override
  public boolean terminal() {
    return false;
  }

  @Override
  public NetworkFilter compile(Message config, NetworkFilterContext context) {
    IstioStandardMetrics metrics = new IstioStandardMetrics(context.stats().labelled());
    Workload self = Workload.of(context.node().getMetadata());
    boolean inbound = context.inbound();
    return (ch, info) ->
        info.whenUpstreamConnected(
            () -> {
              LabelledMetrics.Labels labels =
                  metrics.tcpLabels(
                      inbound,
                      self,
                      IstioStandardMetrics.serviceOfCluster(info.upstreamCluster()),
                      IstioStandardMetrics.Security.of(inbound, info));
              metrics.tcpOpened(labels);
              ch.closeFuture()
                  .addListener(
                      f -> metrics.tcpClosed(labels, info.bytesReceived(), info.bytesSent()));
            });
  }
}
