package dev.mesh.proxy.filters.http.healthcheck;

import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.http.filter.FilterHeadersStatus;
import dev.mesh.proxy.http.filter.StreamDecoderFilter;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.stream.ResponseFlag;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import java.util.function.BooleanSupplier;

/**
 * Envoy's health check filter on one stream: a request its headers match is a health check,
 * answered here (200, or 503 while the server fails health checks or drains), or in pass-through
 * mode let through unless failing.
 */
final class HealthCheckFilter implements StreamDecoderFilter {
  private final HealthCheckMatcher matcher;
  private final BooleanSupplier failing;
  private DecoderFilterCallbacks callbacks;

  HealthCheckFilter(HealthCheckMatcher matcher, BooleanSupplier failing) {
    this.matcher = matcher;
    this.failing = failing;
  }

  @Override
  public void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream) {
    boolean fail = failing.getAsBoolean();
    Integer status =
        matcher.respond(
            RequestView.of(
                headers.headers().get(HttpHeaderNames.HOST, ""),
                headers.method().name(),
                headers.uri(),
                headers.headers()),
            fail);
    if (status == null) {
      return FilterHeadersStatus.CONTINUE;
    }
    if (status == 503) {
      callbacks.streamInfo().addResponseFlag(ResponseFlag.FAILED_LOCAL_HEALTH_CHECK);
    }
    callbacks.sendLocalReply(
        status, "", null, null, status == 200 ? "health_check_ok" : "health_check_failed");
    return FilterHeadersStatus.STOP_ITERATION;
  }
}
