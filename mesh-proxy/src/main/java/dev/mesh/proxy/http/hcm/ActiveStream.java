package dev.mesh.proxy.http.hcm;

import com.google.protobuf.Any;
import dev.mesh.proxy.http.codec.ServerStream;
import dev.mesh.proxy.http.codec.StreamDecoder;
import dev.mesh.proxy.http.filter.FilterManager;
import dev.mesh.proxy.route.Authority;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.route.RouteTable;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.stream.ResponseFlag;
import dev.mesh.proxy.stream.StreamInfo;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * One request and its response in a connection manager (Envoy's ActiveStream): the connection
 * manager's own work on the request (validation, request id, forwarding headers), then the stream's
 * filters; on the way out, the server header and the drain decision, then the codec. When the
 * stream ends its StreamInfo is final: stats, filters that report and access logs read it.
 */
final class ActiveStream implements StreamDecoder, FilterManager.Callbacks {
  private final ConnectionManager cm;
  private final HcmConfig config;
  private final ServerStream codec;
  private final StreamInfo info;
  private FilterManager filters;
  private HcmConfig.Routes routes;
  private RouteTable.Match route;
  private boolean routeChosen;
  private boolean grpc;
  private boolean head;
  private boolean started;
  private boolean done;
  // Envoy's stream_idle_timeout, from the stream's headers on (before them, ConnectionLifecycle).
  private ScheduledFuture<?> idleTimer;
  private long lastActivityNanos;

  ActiveStream(ConnectionManager cm, ServerStream codec) {
    this.cm = cm;
    this.config = cm.config;
    this.codec = codec;
    this.info = new StreamInfo(cm.info, codec.http2() ? "HTTP/2" : "HTTP/1.1");
  }

  // ---- from the codec ----

  @Override
  public void decodeHeaders(HttpRequest request, boolean endStream) {
    started = true;
    config.stats.rqTotal.inc();
    config.stats.rqActive.inc();
    cm.lifecycle.requestStarted();
    if (!codec.http2()) {
      info.setProtocol(
          request.decoderResult().isSuccess() ? request.protocolVersion().text() : "HTTP/1.1");
    }
    String authority = request.headers().get(HttpHeaderNames.HOST, "");
    info.setRequestHeaders(request, authority);
    if (!request.decoderResult().isSuccess()) {
      protocolError(request);
      return;
    }
    if (!codec.http2()
        && !request.protocolVersion().equals(HttpVersion.HTTP_1_1)
        && !request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
      badRequest(400, ""); // an HTTP/1 codec speaks 1.0 and 1.1 only, as Envoy's
      return;
    }
    HttpHeaders h = request.headers();
    if (authority.isEmpty() && !request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
      badRequest(400, "missing host header");
      return;
    }
    if (config.config.getStripAnyHostPort() && !authority.isEmpty()) {
      h.set(HttpHeaderNames.HOST, Authority.withoutPort(authority));
    }
    if (config.generateRequestId() && !h.contains("x-request-id")) {
      h.set("x-request-id", RequestIds.next());
    }
    if (config.useRemoteAddress()) {
      if (!config.config.getSkipXffAppend() && cm.info.remoteAddress() != null) {
        String client = cm.info.remoteAddress().getAddress().getHostAddress();
        String xff = h.get("x-forwarded-for");
        h.set("x-forwarded-for", xff == null ? client : xff + "," + client);
      }
      h.set("x-forwarded-proto", cm.tls ? "https" : "http");
    } else if (!h.contains("x-forwarded-proto")) {
      h.set("x-forwarded-proto", cm.tls ? "https" : "http");
    }
    grpc = h.get(HttpHeaderNames.CONTENT_TYPE, "").startsWith("application/grpc");
    head = request.method().equals(HttpMethod.HEAD);
    routes = config.routes;
    String upgrade = upgradeType(request);
    if (upgrade != null && (codec.http2() || !config.upgrades.contains(upgrade))) {
      filters = new FilterManager(this, List.of());
      filters.decodeHeaders(request, endStream);
      filters.sendLocalReply(403, "", null, null, "upgrade_failed");
      return;
    }
    filters = new FilterManager(this, config.newFilterChain());
    startIdleTimer();
    filters.decodeHeaders(request, endStream);
  }

  /** A request the codec could not parse: Envoy's 4xx with DPE, and the connection closes. */
  private void protocolError(HttpRequest request) {
    config.stats.protocolError.inc();
    Throwable cause = request.decoderResult().cause();
    int status =
        cause instanceof TooLongHttpHeaderException
            ? 431
            : cause instanceof TooLongHttpLineException
                ? 414
                : cause instanceof TooLongFrameException ? 413 : 400;
    badRequest(status, "");
  }

  private void badRequest(int status, String body) {
    if (status == 400) {
      config.stats.protocolError.inc();
    }
    info.addResponseFlag(ResponseFlag.DOWNSTREAM_PROTOCOL_ERROR);
    filters = new FilterManager(this, List.of());
    filters.decodeHeaders(info.requestHeaders(), true);
    filters.sendLocalReply(
        status,
        body,
        h -> h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE),
        null,
        "protocol_error");
  }

  @Override
  public void decodeData(ByteBuf data, boolean endStream) {
    info.addBytesReceived(data.readableBytes());
    touch();
    if (filters != null) {
      filters.decodeData(data, endStream);
    }
  }

  @Override
  public void decodeTrailers(HttpHeaders trailers) {
    touch();
    if (filters != null) {
      filters.decodeTrailers(trailers);
    }
  }

  @Override
  public void onReset() {
    if (done) {
      return;
    }
    // The client went away before its response was complete.
    info.addResponseFlag(ResponseFlag.DOWNSTREAM_CONNECTION_TERMINATION);
    complete();
  }

  @Override
  public void onEncodeComplete(boolean success) {
    if (!success && !done) {
      info.addResponseFlag(ResponseFlag.DOWNSTREAM_CONNECTION_TERMINATION);
    }
    complete();
  }

  @Override
  public void onAboveWriteBufferHighWatermark() {
    if (filters != null) {
      filters.onAboveWriteBufferHighWatermark();
    }
  }

  @Override
  public void onBelowWriteBufferLowWatermark() {
    if (filters != null) {
      filters.onBelowWriteBufferLowWatermark();
    }
  }

  // ---- from the filters ----

  @Override
  public void encodeHeaders(HttpResponse response, boolean endStream) {
    touch();
    HttpHeaders h = response.headers();
    h.set(HttpHeaderNames.SERVER, config.serverName);
    DrainState drain = config.drain;
    if (drain != null && drain.closeNow()) {
      if (codec.http2()) {
        codec.goAway();
      } else {
        h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      }
    }
    info.setResponseCode(response.status().code());
    info.setResponseHeaders(response);
    codec.encodeHeaders(response, endStream);
    if (endStream) {
      complete();
    }
  }

  @Override
  public void encodeData(ByteBuf data, boolean endStream) {
    touch();
    info.addBytesSent(data.readableBytes());
    codec.encodeData(data, endStream);
    if (endStream) {
      complete();
    }
  }

  @Override
  public void encodeTrailers(HttpHeaders trailers) {
    touch();
    info.setResponseTrailers(trailers);
    codec.encodeTrailers(trailers);
    complete();
  }

  @Override
  public void resetStream() {
    if (done) {
      return;
    }
    codec.reset();
    complete();
  }

  @Override
  public void readDisable(boolean disable) {
    codec.readDisable(disable);
  }

  @Override
  public StreamInfo streamInfo() {
    return info;
  }

  @Override
  public ConnectionInfo connection() {
    return cm.info;
  }

  @Override
  public EventLoop dispatcher() {
    return cm.connection.eventLoop();
  }

  @Override
  public ByteBufAllocator alloc() {
    return cm.connection.alloc();
  }

  @Override
  public int bufferLimit() {
    return HcmConfig.BUFFER_LIMIT;
  }

  @Override
  public RouteTable.Match route() {
    if (!routeChosen) {
      routeChosen = true;
      HttpRequest r = info.requestHeaders();
      route =
          routes == null
              ? null
              : routes
                  .table()
                  .select(
                      RequestView.of(
                          r.headers().get(HttpHeaderNames.HOST, ""),
                          r.method().name(),
                          r.uri(),
                          r.headers()));
      info.setRouteName(route == null ? null : route.route().config().getName());
    }
    return route;
  }

  @Override
  public void clearRouteCache() {
    routeChosen = false;
    route = null;
  }

  @Override
  public Object perFilterConfig(String filterName) {
    RouteTable.Match m = route();
    if (m == null) {
      return null;
    }
    Any any = m.perFilterConfig(filterName);
    return any == null ? null : routes.perFilterConfigs().get(any);
  }

  @Override
  public boolean grpcRequest() {
    return grpc;
  }

  @Override
  public boolean headRequest() {
    return head;
  }

  // ---- the end ----

  /**
   * Once, when the response has gone to the codec whole (or the stream was reset): the stream's
   * stats, its filters' reports, access logs, then the filters go.
   */
  private void complete() {
    if (done) {
      return;
    }
    done = true;
    if (idleTimer != null) {
      idleTimer.cancel(false);
    }
    info.onStreamEnd();
    if (started) {
      if (info.responseCode() > 0) {
        config.stats.response(info.responseCode());
      }
      config.stats.rqActive.dec();
      cm.lifecycle.requestFinished();
    }
    if (filters != null) {
      filters.destroy(); // tells the filters, which report from the final info first
    }
    if (started && config.accessLog.enabled()) {
      config.accessLog.log(info);
    }
  }

  /** Envoy's stream_idle_timeout: 408 before the response, else a reset. */
  private void startIdleTimer() {
    long idle = config.streamIdleTimeout().toNanos();
    if (idle <= 0) {
      return;
    }
    lastActivityNanos = System.nanoTime();
    idleTimer = dispatcher().schedule(this::checkIdle, idle, TimeUnit.NANOSECONDS);
  }

  private void checkIdle() {
    if (done) {
      return;
    }
    long idle = config.streamIdleTimeout().toNanos();
    long quiet = System.nanoTime() - lastActivityNanos;
    if (quiet < idle) {
      idleTimer = dispatcher().schedule(this::checkIdle, idle - quiet, TimeUnit.NANOSECONDS);
      return;
    }
    config.stats.streamIdleTimeout.inc();
    info.addResponseFlag(ResponseFlag.STREAM_IDLE_TIMEOUT);
    if (filters.responseStarted()) {
      resetStream();
    } else {
      filters.sendLocalReply(408, "stream timeout", null, null, "stream_idle_timeout");
    }
  }

  private void touch() {
    if (idleTimer != null) {
      lastActivityNanos = System.nanoTime();
    }
  }

  /** The lowercase Upgrade type of an HTTP/1.1 upgrade request, or null. */
  private static String upgradeType(HttpRequest r) {
    String upgrade = r.headers().get(HttpHeaderNames.UPGRADE);
    if (upgrade == null
        || !r.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)) {
      return null;
    }
    return upgrade.trim().toLowerCase(Locale.ROOT);
  }
}
