package dev.mesh.proxy.filters.http.fault;

import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.http.filter.FilterDataStatus;
import dev.mesh.proxy.http.filter.FilterHeadersStatus;
import dev.mesh.proxy.http.filter.FilterTrailersStatus;
import dev.mesh.proxy.http.filter.StreamDecoderFilter;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.route.RouteTable;
import dev.mesh.proxy.stats.Stats;
import dev.mesh.proxy.stream.ResponseFlag;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's fault filter on one stream: the route's fault config (typed_per_filter_config) or the
 * filter's own; a delay holds the request (its body waits too) and then lets it go on, an abort
 * answers it with a local reply instead of the upstream.
 */
final class FaultFilter implements StreamDecoderFilter {
  /** One fault filter's config and stats, shared by its streams. */
  record Config(FaultInjection filterLevel, Stats.Counter aborts, Stats.Counter delays) {}

  private final Config config;
  private DecoderFilterCallbacks callbacks;
  private ScheduledFuture<?> delay;

  FaultFilter(Config config) {
    this.config = config;
  }

  @Override
  public void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream) {
    Object perRoute = callbacks.perFilterConfig();
    FaultInjection fault = perRoute instanceof FaultInjection f ? f : config.filterLevel();
    RouteTable.Match route = callbacks.route();
    String cluster = route == null ? "" : route.route().config().getRoute().getCluster();
    if (!fault.appliesTo(cluster)) {
      return FilterHeadersStatus.CONTINUE;
    }
    FaultInjection.Decision d =
        fault.decide(
            RequestView.of(
                headers.headers().get(HttpHeaderNames.HOST, ""),
                headers.method().name(),
                headers.uri(),
                headers.headers()));
    if (!d.delay().isZero()) {
      config.delays().inc();
      callbacks.streamInfo().addResponseFlag(ResponseFlag.DELAY_INJECTED);
      delay =
          callbacks
              .dispatcher()
              .schedule(() -> afterDelay(d), d.delay().toNanos(), TimeUnit.NANOSECONDS);
      return FilterHeadersStatus.STOP_ITERATION;
    }
    if (d.aborts()) {
      abort(d);
      return FilterHeadersStatus.STOP_ITERATION;
    }
    return FilterHeadersStatus.CONTINUE;
  }

  @Override
  public FilterDataStatus decodeData(ByteBuf data, boolean endStream) {
    return delay != null
        ? FilterDataStatus.STOP_ITERATION_AND_WATERMARK
        : FilterDataStatus.CONTINUE;
  }

  @Override
  public FilterTrailersStatus decodeTrailers(HttpHeaders trailers) {
    return delay != null ? FilterTrailersStatus.STOP_ITERATION : FilterTrailersStatus.CONTINUE;
  }

  private void afterDelay(FaultInjection.Decision d) {
    delay = null;
    if (d.aborts()) {
      abort(d);
    } else {
      callbacks.continueDecoding();
    }
  }

  private void abort(FaultInjection.Decision d) {
    config.aborts().inc();
    callbacks.streamInfo().addResponseFlag(ResponseFlag.FAULT_INJECTED);
    int status = d.grpcStatus() != null ? 200 : d.httpStatus();
    callbacks.sendLocalReply(
        status, "fault filter abort", null, d.grpcStatus(), "fault_filter_abort");
  }

  @Override
  public void onDestroy() {
    if (delay != null) {
      delay.cancel(false);
      delay = null;
    }
  }
}
