package dev.mesh.proxy.filters.http.fault;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.Fractions;
import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.route.RouteEntry;
import io.envoyproxy.envoy.extensions.filters.common.fault.v3.FaultDelay;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.FaultAbort;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import io.netty.handler.codec.http.HttpHeaders;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/**
 * Envoy's fault filter: a delay and/or an abort, each for a fraction of requests, fixed or taken
 * from the request's {@code x-envoy-fault-*} headers when the config says so. Configured on the
 * filter, and overridden per route or virtual host by typed_per_filter_config (as Istio emits it).
 */
public final class FaultInjection {
  public static final String DELAY_HEADER = "x-envoy-fault-delay-request";
  public static final String DELAY_PERCENT_HEADER = "x-envoy-fault-delay-request-percentage";
  public static final String ABORT_HEADER = "x-envoy-fault-abort-request";
  public static final String ABORT_GRPC_HEADER = "x-envoy-fault-abort-grpc-request";
  public static final String ABORT_PERCENT_HEADER = "x-envoy-fault-abort-request-percentage";

  private final HTTPFault config;
  private final List<Predicate<RequestView>> matchers;

  /** What to do to one request: wait, then maybe answer instead of the upstream. */
  public record Decision(Duration delay, Integer httpStatus, Integer grpcStatus) {
    static final Decision NONE = new Decision(Duration.ZERO, null, null);

    public boolean aborts() {
      return httpStatus != null || grpcStatus != null;
    }
  }

  public FaultInjection(HTTPFault config) {
    this.config = config;
    this.matchers = config.getHeadersList().stream().map(RouteEntry::headerMatcher).toList();
    if (config.hasAbort()) {
      FaultAbort a = config.getAbort();
      if (a.getErrorTypeCase() == FaultAbort.ErrorTypeCase.HTTP_STATUS
          && (a.getHttpStatus() < 200 || a.getHttpStatus() >= 600)) {
        throw new ConfigRejectedException(
            "fault filter: abort http_status must be in [200, 600), got " + a.getHttpStatus());
      }
    }
  }

  /** Whether this fault applies to a route to {@code cluster} (upstream_cluster restricts it). */
  public boolean appliesTo(String cluster) {
    return config.getUpstreamCluster().isEmpty() || config.getUpstreamCluster().equals(cluster);
  }

  /** What to do to this request; the headers are its own, for the x-envoy-fault-* ones. */
  public Decision decide(RequestView request) {
    for (Predicate<RequestView> m : matchers) {
      if (!m.test(request)) {
        return Decision.NONE;
      }
    }
    HttpHeaders headers = request.headers();
    Duration delay = Duration.ZERO;
    if (config.hasDelay()) {
      FaultDelay d = config.getDelay();
      FractionalPercent pct = percentage(d.getPercentage(), headers, DELAY_PERCENT_HEADER);
      if (d.hasHeaderDelay()) {
        Long ms = number(headers.get(DELAY_HEADER));
        if (ms != null && ms >= 0 && Fractions.hit(pct)) {
          delay = Duration.ofMillis(ms);
        }
      } else if (Fractions.hit(pct)) {
        delay = ProtoDurations.of(d.getFixedDelay());
      }
    }
    Integer http = null;
    Integer grpc = null;
    if (config.hasAbort()) {
      FaultAbort a = config.getAbort();
      FractionalPercent pct = percentage(a.getPercentage(), headers, ABORT_PERCENT_HEADER);
      switch (a.getErrorTypeCase()) {
        case HTTP_STATUS -> {
          if (Fractions.hit(pct)) {
            http = a.getHttpStatus();
          }
        }
        case GRPC_STATUS -> {
          if (Fractions.hit(pct)) {
            grpc = a.getGrpcStatus();
          }
        }
        case HEADER_ABORT -> {
          Long status = number(headers.get(ABORT_HEADER));
          Long grpcStatus = number(headers.get(ABORT_GRPC_HEADER));
          if (status != null && status >= 200 && status < 600 && Fractions.hit(pct)) {
            http = status.intValue();
          } else if (grpcStatus != null && grpcStatus >= 0 && Fractions.hit(pct)) {
            grpc = grpcStatus.intValue();
          }
        }
        default -> {}
      }
    }
    return new Decision(delay, http, grpc);
  }

  /**
   * The configured percentage; a header may lower it (never raise it), as Envoy's header
   * percentages do.
   */
  private static FractionalPercent percentage(
      FractionalPercent configured, HttpHeaders headers, String header) {
    Long fromHeader = number(headers.get(header));
    if (fromHeader != null && fromHeader >= 0) {
      long capped = Math.min(fromHeader, configured.getNumerator());
      return configured.toBuilder().setNumerator((int) capped).build();
    }
    return configured;
  }

  private static Long number(String v) {
    if (v == null) {
      return null;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
