package dev.mesh.proxy.router;

import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.http.filter.DownstreamWatermarkCallbacks;
import dev.mesh.proxy.http.filter.FilterDataStatus;
import dev.mesh.proxy.http.filter.FilterHeadersStatus;
import dev.mesh.proxy.http.filter.FilterTrailersStatus;
import dev.mesh.proxy.http.filter.StreamDecoderFilter;
import dev.mesh.proxy.route.Authority;
import dev.mesh.proxy.route.RetryPolicy;
import dev.mesh.proxy.route.RouteEntry;
import dev.mesh.proxy.route.RouteTable;
import dev.mesh.proxy.stream.ResponseFlag;
import dev.mesh.proxy.stream.StreamInfo;
import dev.mesh.proxy.upstream.ConnectionPools;
import dev.mesh.proxy.upstream.PendingStream;
import dev.mesh.proxy.upstream.UpstreamFailure;
import dev.mesh.proxy.upstream.UpstreamStream;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's router filter, the last of the chain: it sends the request to the route's cluster and the
 * response back into the encoder filters. It owns the upstream attempts: the route timeout (from
 * the end of the request) and per-try timeout, retries with jittered back-off (the body kept for
 * replay up to the buffer limit), request mirroring, circuit breakers and outlier reporting, direct
 * responses, redirects and upgrades.
 */
public final class RouterFilter implements StreamDecoderFilter, DownstreamWatermarkCallbacks {
  private static final String RESET_BEFORE_HEADERS =
      "upstream connect error or disconnect/reset before headers. reset reason: ";

  private final RouterConfig config;
  private DecoderFilterCallbacks callbacks;
  private StreamInfo info;
  private RouteTable.Match match;
  private RouteEntry.ClusterChoice choice;
  private UpstreamCluster cluster;
  private RetryPolicy retry = RetryPolicy.NONE;
  private HttpRequest upstreamHeaders;
  private Duration timeout = Duration.ZERO;
  private long deadlineNanos = Long.MAX_VALUE;
  private ScheduledFuture<?> globalTimer;
  private ScheduledFuture<?> perTryTimer;
  private ScheduledFuture<?> retryTimer;
  private UpstreamRequest current;
  private boolean requestEnded;
  private HttpHeaders requestTrailers;
  // The request body kept for retries and mirrors, while it fits in the buffer limit.
  private List<ByteBuf> kept = new ArrayList<>();
  private long keptBytes;
  private boolean keptOverflow;
  private boolean holdsRequestSlot;
  private boolean holdsRetrySlot;
  private boolean responseStarted;
  private boolean downstreamAboveWatermark;
  private boolean upstreamAboveWatermark;
  private boolean upgrading;
  private boolean destroyed;

  RouterFilter(RouterConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks) {
    this.callbacks = callbacks;
    this.info = callbacks.streamInfo();
    callbacks.addDownstreamWatermarkCallbacks(this);
  }

  @Override
  public FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream) {
    match = callbacks.route();
    if (match == null) {
      config.noRoute.inc();
      info.addResponseFlag(ResponseFlag.NO_ROUTE_FOUND);
      callbacks.sendLocalReply(404, "", null, null, "route_not_found");
      return FilterHeadersStatus.STOP_ITERATION;
    }
    Route route = match.route().config();
    switch (route.getActionCase()) {
      case DIRECT_RESPONSE -> {
        callbacks.sendLocalReply(
            route.getDirectResponse().getStatus(),
            match.route().directResponseBody(),
            null,
            null,
            "direct_response");
        return FilterHeadersStatus.STOP_ITERATION;
      }
      case REDIRECT -> {
        redirect(headers, route.getRedirect());
        return FilterHeadersStatus.STOP_ITERATION;
      }
      case ROUTE -> {}
      default -> {
        info.addResponseFlag(ResponseFlag.NO_ROUTE_FOUND);
        callbacks.sendLocalReply(404, "", null, null, "route_not_found");
        return FilterHeadersStatus.STOP_ITERATION;
      }
    }
    retry = match.route().retryPolicy();
    // Envoy keeps the request body for a replay only when a retry or a mirror may want it.
    keptOverflow = retry.numRetries() == 0 && route.getRoute().getRequestMirrorPoliciesCount() == 0;
    choice = match.route().pickCluster();
    info.setUpstreamCluster(choice.cluster());
    cluster = config.clusters.get(choice.cluster());
    if (cluster == null) {
      info.addResponseFlag(ResponseFlag.NO_CLUSTER_FOUND);
      callbacks.sendLocalReply(503, "", null, null, "cluster_not_found");
      return FilterHeadersStatus.STOP_ITERATION;
    }
    if (!cluster.circuitBreakers().tryStartRequest()) {
      cluster.stats().rqPendingOverflow.inc();
      info.addResponseFlag(ResponseFlag.UPSTREAM_OVERFLOW);
      callbacks.sendLocalReply(
          503,
          RESET_BEFORE_HEADERS + "overflow",
          null,
          null,
          "upstream_reset_before_response_started{overflow}");
      return FilterHeadersStatus.STOP_ITERATION;
    }
    holdsRequestSlot = true;
    if (upgradeType(headers)) {
      upgrade(headers);
      return FilterHeadersStatus.STOP_ITERATION;
    }
    timeout = match.route().timeout();
    upstreamHeaders = upstreamHeaders(headers, route, endStream);
    if (endStream) {
      requestEnded();
    }
    attempt(0);
    return FilterHeadersStatus.STOP_ITERATION;
  }

  @Override
  public FilterDataStatus decodeData(ByteBuf data, boolean endStream) {
    if (upgrading || cluster == null) {
      return FilterDataStatus.STOP_ITERATION_NO_BUFFER;
    }
    keep(data);
    if (current != null) {
      current.sendData(data, endStream);
    }
    if (endStream) {
      requestEnded();
    }
    return FilterDataStatus.STOP_ITERATION_NO_BUFFER;
  }

  @Override
  public FilterTrailersStatus decodeTrailers(HttpHeaders trailers) {
    if (upgrading || cluster == null) {
      return FilterTrailersStatus.STOP_ITERATION;
    }
    requestTrailers = trailers;
    if (current != null) {
      current.sendTrailers(trailers);
    }
    requestEnded();
    return FilterTrailersStatus.STOP_ITERATION;
  }

  /** Keeps a piece of the request body for a retry or a mirror, within the buffer limit. */
  private void keep(ByteBuf data) {
    if (keptOverflow || !data.isReadable()) {
      return;
    }
    keptBytes += data.readableBytes();
    if (keptBytes > callbacks.bufferLimit()) {
      keptOverflow = true; // as Envoy's retry buffer: beyond it, no retry and no mirror
      releaseKept();
      return;
    }
    kept.add(data.retainedDuplicate());
  }

  private void releaseKept() {
    kept.forEach(ByteBuf::release);
    kept.clear();
  }

  /**
   * The downstream request has ended: Envoy's route timeout starts now (so a bidirectional stream
   * is not cut), and mirrors get a copy of the whole request.
   */
  private void requestEnded() {
    requestEnded = true;
    if (!timeout.isZero()) {
      deadlineNanos = System.nanoTime() + timeout.toNanos();
      globalTimer =
          callbacks
              .dispatcher()
              .schedule(this::onGlobalTimeout, timeout.toNanos(), TimeUnit.NANOSECONDS);
    }
    if (current != null) {
      armPerTryTimer();
    }
    if (!keptOverflow && match.route().config().getRoute().getRequestMirrorPoliciesCount() > 0) {
      ShadowWriter.mirror(
          config, callbacks, match.route().config(), upstreamHeaders, kept, requestTrailers);
    }
  }

  /** The request's headers as the upstream gets them, changed in place as Envoy's router does. */
  private HttpRequest upstreamHeaders(HttpRequest request, Route route, boolean endStream) {
    request.setProtocolVersion(HttpVersion.HTTP_1_1);
    HttpHeaders h = request.headers();
    HopByHop.remove(h);
    var action = route.getRoute();
    if (!action.getPrefixRewrite().isEmpty() && route.getMatch().hasPrefix()) {
      String prefix = route.getMatch().getPrefix();
      String uri = request.uri();
      h.set("x-envoy-original-path", uri);
      request.setUri(
          action.getPrefixRewrite() + uri.substring(Math.min(prefix.length(), uri.length())));
    }
    if (!action.getHostRewriteLiteral().isEmpty()) {
      h.set(HttpHeaderNames.HOST, action.getHostRewriteLiteral());
    }
    if (!timeout.isZero()) {
      h.set("x-envoy-expected-rq-timeout-ms", Long.toString(timeout.toMillis()));
    }
    match.applyRequestHeaders(h);
    choice.requestHeaders().apply(h);
    if (!endStream && !HttpUtil.isContentLengthSet(request)) {
      HttpUtil.setTransferEncodingChunked(request, true); // for an HTTP/1.1 upstream
    }
    return request;
  }

  // ---- attempts ----

  private void attempt(int n) {
    retryTimer = null;
    if (destroyed) {
      return;
    }
    Endpoint endpoint = cluster.pick(callbacks.connection().localAddress());
    if (endpoint == null) {
      info.addResponseFlag(ResponseFlag.NO_HEALTHY_UPSTREAM);
      failBeforeResponse(503, "no healthy upstream", "no_healthy_upstream");
      return;
    }
    cluster.stats().rqTotal.inc();
    cluster.stats().rqActive.inc();
    endpoint.requestStarted();
    info.setUpstreamHost(endpoint.toString());
    boolean headersEnd = requestEnded && kept.isEmpty() && requestTrailers == null;
    UpstreamRequest up = new UpstreamRequest(this, endpoint, n, upstreamHeaders, headersEnd);
    up.upstreamActive = true;
    current = up;
    if (n > 0) {
      for (ByteBuf piece : kept) {
        up.sendData(
            piece, requestEnded && requestTrailers == null && piece == kept.get(kept.size() - 1));
      }
      if (requestTrailers != null) {
        up.sendTrailers(requestTrailers);
      }
    }
    PendingStream pending =
        ConnectionPools.newStream(
            callbacks.dispatcher(),
            config.upstreamChannelType,
            cluster,
            endpoint.address(),
            up,
            up);
    up.waitFor(pending);
    if (requestEnded && current == up) {
      armPerTryTimer();
    }
  }

  private void armPerTryTimer() {
    cancel(perTryTimer);
    perTryTimer = null;
    if (retry.perTryTimeout().isZero()) {
      return;
    }
    UpstreamRequest up = current;
    perTryTimer =
        callbacks
            .dispatcher()
            .schedule(
                () -> onPerTryTimeout(up), retry.perTryTimeout().toNanos(), TimeUnit.NANOSECONDS);
  }

  void upstreamReady(UpstreamRequest up, UpstreamStream stream) {
    info.setUpstreamLocalAddress(stream.localAddress());
    info.onFirstUpstreamTxByteSent();
    if (downstreamAboveWatermark) {
      stream.readDisable(true);
    }
  }

  void upstreamHeaders(UpstreamRequest up, HttpResponse response, boolean endStream) {
    if (up != current) {
      return;
    }
    info.onFirstUpstreamRxByteReceived();
    int status = response.status().code();
    cluster.stats().response(status);
    cluster.recordOutcome(up.endpoint, status);
    releaseRetrySlot();
    cancel(perTryTimer);
    perTryTimer = null;
    if (retry.retriesStatus(status) && canRetry(up)) {
      upstreamDone(up, true);
      retryLater(up.attempt);
      return;
    }
    if (up.attempt > 0 && retry.retriesStatus(status)) {
      info.addResponseFlag(ResponseFlag.UPSTREAM_RETRY_LIMIT_EXCEEDED);
    }
    releaseRequestSlot();
    releaseKept();
    keptOverflow = true; // the response is committed: nothing will be replayed
    HttpHeaders h = response.headers();
    HopByHop.remove(h);
    long serviceNanos = info.upstreamServiceNanos();
    h.set(
        "x-envoy-upstream-service-time",
        Long.toString(TimeUnit.NANOSECONDS.toMillis(Math.max(0, serviceNanos))));
    match.applyResponseHeaders(h);
    choice.responseHeaders().apply(h);
    info.setResponseCodeDetails("via_upstream");
    responseStarted = true;
    if (endStream) {
      upstreamDone(up, false);
    }
    callbacks.encodeHeaders(response, endStream);
  }

  void upstreamData(UpstreamRequest up, ByteBuf data, boolean endStream) {
    if (up != current || !responseStarted) {
      return;
    }
    if (endStream) {
      upstreamDone(up, false);
    }
    callbacks.encodeData(data, endStream);
  }

  void upstreamTrailers(UpstreamRequest up, HttpHeaders trailers) {
    if (up != current || !responseStarted) {
      return;
    }
    upstreamDone(up, false);
    callbacks.encodeTrailers(trailers);
  }

  void upstreamReset(UpstreamRequest up, UpstreamFailure failure) {
    if (up != current) {
      return;
    }
    if (responseStarted) {
      // The response has begun: the client sees its stream reset, as in Envoy.
      info.addResponseFlag(ResponseFlag.UPSTREAM_REMOTE_RESET);
      upstreamDone(up, false);
      callbacks.resetStream();
      return;
    }
    releaseRetrySlot();
    cancel(perTryTimer);
    perTryTimer = null;
    if (failure.kind() == UpstreamFailure.Kind.OVERFLOW) {
      upstreamDone(up, false);
      cluster.stats().rqPendingOverflow.inc();
      info.addResponseFlag(ResponseFlag.UPSTREAM_OVERFLOW);
      failBeforeResponse(
          503,
          RESET_BEFORE_HEADERS + "overflow",
          "upstream_reset_before_response_started{overflow}");
      return;
    }
    cluster.recordOutcome(up.endpoint, 503);
    boolean connect = failure.kind() != UpstreamFailure.Kind.RESET;
    if (connect) {
      cluster.stats().cxConnectFail.inc();
      if (failure.kind() == UpstreamFailure.Kind.CONNECT_TIMEOUT) {
        cluster.stats().cxConnectTimeout.inc();
      }
    }
    upstreamDone(up, false);
    boolean retriable = connect ? retry.retriesConnectFailure() : retry.retriesReset();
    if (retriable && canRetry(up)) {
      retryLater(up.attempt);
      return;
    }
    if (up.attempt > 0 && retriable) {
      info.addResponseFlag(ResponseFlag.UPSTREAM_RETRY_LIMIT_EXCEEDED);
    }
    info.addResponseFlag(
        connect
            ? ResponseFlag.UPSTREAM_CONNECTION_FAILURE
            : ResponseFlag.UPSTREAM_CONNECTION_TERMINATION);
    String reason = connect ? "connection failure" : "connection termination";
    String details = reason.replace(' ', '_');
    String message = failure.getMessage();
    if (connect
        && message != null
        && message.startsWith(dev.mesh.proxy.cluster.UpstreamConnector.TLS_ERROR)) {
      // Envoy names the TLS failure in the body, the details and the access log.
      info.setUpstreamTransportFailureReason(message);
      reason += ", transport failure reason: " + message;
      details += "," + message.replace(' ', '_');
    }
    failBeforeResponse(
        503,
        RESET_BEFORE_HEADERS + reason,
        "upstream_reset_before_response_started{" + details + "}");
  }

  private void onPerTryTimeout(UpstreamRequest up) {
    if (up != current || responseStarted || destroyed) {
      return;
    }
    timedOut(up, false);
  }

  private void onGlobalTimeout() {
    globalTimer = null;
    UpstreamRequest up = current;
    if (destroyed || up == null && retryTimer == null) {
      return;
    }
    if (responseStarted) {
      // A streamed response that is not over by the deadline is reset, as Envoy does.
      cluster.stats().rqTimeout.inc();
      config.rqTimeout.inc();
      info.addResponseFlag(ResponseFlag.UPSTREAM_REQUEST_TIMEOUT);
      if (up != null) {
        upstreamDone(up, true);
      }
      callbacks.resetStream();
      return;
    }
    if (up == null) {
      cancel(retryTimer); // waiting to retry when the deadline came
      retryTimer = null;
      config.rqTimeout.inc();
      info.addResponseFlag(ResponseFlag.UPSTREAM_REQUEST_TIMEOUT);
      failBeforeResponse(504, "upstream request timeout", "upstream_response_timeout");
      return;
    }
    timedOut(up, true);
  }

  private void timedOut(UpstreamRequest up, boolean global) {
    releaseRetrySlot();
    cluster.stats().rqTimeout.inc();
    cluster.recordOutcome(up.endpoint, 504);
    upstreamDone(up, true);
    if (!global && retry.retriesTimeout() && canRetry(up)) {
      retryLater(up.attempt);
      return;
    }
    config.rqTimeout.inc();
    info.addResponseFlag(ResponseFlag.UPSTREAM_REQUEST_TIMEOUT);
    failBeforeResponse(504, "upstream request timeout", "upstream_response_timeout");
  }

  /**
   * Within num_retries, the route's deadline and the cluster's max_retries, and while the request
   * body can still be sent again.
   */
  private boolean canRetry(UpstreamRequest up) {
    if (up.attempt >= retry.numRetries() || System.nanoTime() >= deadlineNanos || keptOverflow) {
      return false;
    }
    if (!cluster.circuitBreakers().tryStartRetry()) {
      cluster.stats().retryOverflow.inc();
      return false;
    }
    holdsRetrySlot = true;
    return true;
  }

  private void retryLater(int attempt) {
    current = null;
    cluster.stats().rqRetry.inc();
    int next = attempt + 1;
    retryTimer =
        callbacks
            .dispatcher()
            .schedule(() -> attempt(next), retry.backOff(next).toNanos(), TimeUnit.NANOSECONDS);
  }

  /** An attempt is over: its counts go down; {@code reset} also gives up its stream. */
  private void upstreamDone(UpstreamRequest up, boolean reset) {
    if (up.upstreamActive) {
      up.upstreamActive = false;
      up.endpoint.requestFinished();
      cluster.stats().rqActive.dec();
    }
    if (reset) {
      up.abandon(true);
    } else {
      up.finished();
    }
    if (up == current && reset) {
      current = null;
    }
    if (!responseStarted || reset) {
      return;
    }
    cancel(globalTimer);
    globalTimer = null;
  }

  private void failBeforeResponse(int status, String body, String details) {
    cancel(globalTimer);
    globalTimer = null;
    current = null;
    releaseRequestSlot();
    callbacks.sendLocalReply(status, body, null, null, details);
  }

  // ---- back-pressure ----

  @Override
  public void onAboveWriteBufferHighWatermark() {
    downstreamAboveWatermark = true;
    if (current != null) {
      current.readDisable(true);
    }
  }

  @Override
  public void onBelowWriteBufferLowWatermark() {
    downstreamAboveWatermark = false;
    if (current != null) {
      current.readDisable(false);
    }
  }

  void upstreamAboveWatermark(UpstreamRequest up) {
    if (up == current && !upstreamAboveWatermark) {
      upstreamAboveWatermark = true;
      callbacks.onDecoderFilterAboveWriteBufferHighWatermark();
    }
  }

  void upstreamBelowWatermark(UpstreamRequest up) {
    if (upstreamAboveWatermark) {
      upstreamAboveWatermark = false;
      callbacks.onDecoderFilterBelowWriteBufferLowWatermark();
    }
  }

  // ---- the end ----

  @Override
  public void onDestroy() {
    destroyed = true;
    cancel(globalTimer);
    cancel(perTryTimer);
    cancel(retryTimer);
    UpstreamRequest up = current;
    if (up != null) {
      // The downstream is gone or answered: an attempt still in progress stops too.
      upstreamDone(up, true);
    }
    releaseRetrySlot();
    releaseRequestSlot();
    releaseKept();
    if (upstreamAboveWatermark) {
      upstreamAboveWatermark = false;
    }
  }

  private void releaseRetrySlot() {
    if (holdsRetrySlot) {
      holdsRetrySlot = false;
      cluster.circuitBreakers().retryDone();
    }
  }

  private void releaseRequestSlot() {
    if (holdsRequestSlot) {
      holdsRequestSlot = false;
      cluster.circuitBreakers().requestDone();
    }
  }

  private static void cancel(ScheduledFuture<?> timer) {
    if (timer != null) {
      timer.cancel(false);
    }
  }

  // ---- redirects and upgrades ----

  private void redirect(HttpRequest request, RedirectAction r) {
    String authority = request.headers().get(HttpHeaderNames.HOST, "");
    String scheme =
        r.getHttpsRedirect()
            ? "https"
            : r.getSchemeRedirect().isEmpty() ? "http" : r.getSchemeRedirect();
    String host =
        r.getHostRedirect().isEmpty() ? Authority.withoutPort(authority) : r.getHostRedirect();
    if (r.getPortRedirect() != 0) {
      host = host + ":" + r.getPortRedirect();
    } else if (r.getHostRedirect().isEmpty() && authority.contains(":") && !r.getHttpsRedirect()) {
      host = authority;
    }
    String uri = request.uri();
    int q = uri.indexOf('?');
    String path = q < 0 ? uri : uri.substring(0, q);
    String query = q < 0 || r.getStripQuery() ? "" : uri.substring(q);
    if (!r.getPathRedirect().isEmpty()) {
      path = r.getPathRedirect();
    } else if (!r.getPrefixRewrite().isEmpty() && match.route().config().getMatch().hasPrefix()) {
      path =
          r.getPrefixRewrite()
              + path.substring(match.route().config().getMatch().getPrefix().length());
    }
    int code =
        switch (r.getResponseCode()) {
          case FOUND -> 302;
          case SEE_OTHER -> 303;
          case TEMPORARY_REDIRECT -> 307;
          case PERMANENT_REDIRECT -> 308;
          default -> 301;
        };
    String location = scheme + "://" + host + path + query;
    callbacks.sendLocalReply(
        code, "", h -> h.set(HttpHeaderNames.LOCATION, location), null, "direct_response");
  }

  private static boolean upgradeType(HttpRequest r) {
    return r.headers().contains(HttpHeaderNames.UPGRADE)
        && r.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true);
  }

  /**
   * An upgrade the connection manager allowed: the request goes to one upstream host as written,
   * and once it answers, both connections become a byte relay.
   */
  private void upgrade(HttpRequest request) {
    releaseRequestSlot();
    upgrading = true;
    Endpoint endpoint = cluster.pick(callbacks.connection().localAddress());
    if (endpoint == null) {
      info.addResponseFlag(ResponseFlag.NO_HEALTHY_UPSTREAM);
      callbacks.sendLocalReply(503, "no healthy upstream", null, null, "no_healthy_upstream");
      return;
    }
    String upgrade = request.headers().get(HttpHeaderNames.UPGRADE);
    timeout = Duration.ZERO;
    upstreamHeaders = upstreamHeaders(request, match.route().config(), true);
    upstreamHeaders.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
    upstreamHeaders.headers().set(HttpHeaderNames.UPGRADE, upgrade);
    upstreamHeaders.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
    upstreamHeaders.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
    info.setUpstreamHost(endpoint.toString());
    UpgradeTunnel.open(
        callbacks.connection().channel(),
        config.upstreamChannelType,
        cluster,
        endpoint,
        upstreamHeaders,
        status -> {
          cluster.stats().rqTotal.inc();
          if (status == 0) {
            info.addResponseFlag(ResponseFlag.UPSTREAM_CONNECTION_FAILURE);
            callbacks.sendLocalReply(
                503,
                RESET_BEFORE_HEADERS + "connection failure",
                h -> h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE),
                null,
                "upstream_reset_before_response_started{connection_failure}");
            return;
          }
          cluster.stats().response(status);
          info.setResponseCode(status);
          info.setResponseCodeDetails("via_upstream");
        });
  }
}
