package dev.mesh.proxy.filters.http.istiostats;

import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.http.filter.FilterHeadersStatus;
import dev.mesh.proxy.http.filter.StreamDecoderFilter;
import dev.mesh.proxy.istio.IstioStandardMetrics;
import dev.mesh.proxy.istio.Workload;
import dev.mesh.proxy.stream.StreamInfo;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Istio's istio.stats on one stream: nothing on the way, and Istio's standard metrics from the
 * stream's final info once it is over (the peer, as the metadata exchange found it).
 */
final class IstioStatsFilter implements StreamDecoderFilter {
  private final IstioStandardMetrics metrics;
  private final Workload self;
  private final boolean inbound;

  IstioStatsFilter(IstioStandardMetrics metrics, Workload self, boolean inbound) {
    this.metrics = metrics;
    this.self = self;
    this.inbound = inbound;
  }

  @Override
  public void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks) {}

  @Override
  public FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream) {
    return FilterHeadersStatus.CONTINUE;
  }

  @Override
  public void onStreamComplete(StreamInfo info) {
    HttpRequest request = info.requestHeaders();
    if (request == null) {
      return;
    }
    boolean grpc =
        request.headers().get(HttpHeaderNames.CONTENT_TYPE, "").startsWith("application/grpc");
    String service =
        inbound
            ? IstioStandardMetrics.serviceOfAuthority(info.originalAuthority(), self.namespace())
            : IstioStandardMetrics.serviceOfCluster(
                info.upstreamCluster() == null ? "" : info.upstreamCluster());
    metrics.record(
        new IstioStandardMetrics.Request(
            inbound,
            self,
            info.peer(),
            IstioStandardMetrics.Security.of(inbound, info.connection()),
            service,
            grpc ? "grpc" : "http",
            info.responseCode(),
            grpcStatus(info),
            info.responseFlags(),
            info.durationNanos() / 1e6,
            info.bytesReceived(),
            info.bytesSent()));
  }

  private static String grpcStatus(StreamInfo info) {
    HttpHeaders trailers = info.responseTrailers();
    String fromTrailers = trailers == null ? null : trailers.get("grpc-status");
    if (fromTrailers != null) {
      return fromTrailers;
    }
    return info.responseHeaders() == null
        ? null
        : info.responseHeaders().headers().get("grpc-status");
  }
}
