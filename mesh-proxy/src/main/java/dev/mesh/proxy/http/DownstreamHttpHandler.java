package dev.mesh.proxy.http;

import dev.mesh.proxy.accesslog.AccessLog;
import dev.mesh.proxy.accesslog.LogEntry;
import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.http.fault.FaultInjection;
import dev.mesh.proxy.istio.IstioStandardMetrics;
import dev.mesh.proxy.istio.PeerMetadataExchange;
import dev.mesh.proxy.istio.Workload;
import dev.mesh.proxy.listener.OriginalDestination;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.route.RouteEntry;
import dev.mesh.proxy.route.RouteTable;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One downstream HTTP/1.1 connection (or HTTP/2 stream) of an http_connection_manager. Requests are
 * handled one at a time, which keeps pipelined requests in order. A request arrives whole (a
 * FullHttpRequest, see {@link BufferOrStream}) or as its head followed by body pieces that stream
 * to the upstream.
 */
final class DownstreamHttpHandler extends ChannelInboundHandlerAdapter {
  private static final List<String> HOP_BY_HOP =
      List.of("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te");

  private final HttpConnectionManagerConfig hcm;
  private final ClusterManager clusters;
  private final Class<? extends Channel> upstreamChannelType;
  // Requests decoded from one read arrive together; they wait here so responses keep their order.
  // A streamed request waits as its head followed by its body pieces.
  private final java.util.ArrayDeque<HttpObject> waiting = new java.util.ArrayDeque<>();
  private boolean busy;
  // The exchange whose streamed request body is still arriving, and the one being answered.
  private Exchange bodyOwner;
  private Exchange current;

  DownstreamHttpHandler(
      HttpConnectionManagerConfig hcm,
      ClusterManager clusters,
      Class<? extends Channel> upstreamChannelType) {
    this.hcm = hcm;
    this.clusters = clusters;
    this.upstreamChannelType = upstreamChannelType;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    while (!waiting.isEmpty()) {
      io.netty.util.ReferenceCountUtil.release(waiting.poll());
    }
    if (bodyOwner != null) {
      bodyOwner.body.sourceFailed();
    }
    if (current != null) {
      current.downstreamGone();
    }
    super.channelInactive(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof HttpContent piece && !(msg instanceof HttpRequest)) {
      if (bodyOwner != null) {
        toBodyOwner(piece);
      } else if (busy) {
        waiting.add(piece); // the body of a streamed request that waits its turn
      } else {
        piece.release();
      }
      return;
    }
    if (!(msg instanceof HttpRequest request)) {
      io.netty.util.ReferenceCountUtil.release(msg);
      return;
    }
    ConnectionLifecycle.of(connection(ctx.channel())).requestStarted();
    if (busy) {
      waiting.add(request);
      if (waiting.size() >= MAX_PIPELINED) {
        ctx.channel().config().setAutoRead(false); // back-pressure on a client that runs ahead
      }
      return;
    }
    busy = true;
    exchange(ctx, request).start();
  }

  /**
   * The exchange for a request; a streamed request's body pieces go to it from now on, including
   * those already waiting behind its head.
   */
  private Exchange exchange(ChannelHandlerContext ctx, HttpRequest request) {
    Exchange e;
    if (request instanceof FullHttpRequest full) {
      e = new Exchange(ctx, full, null);
    } else {
      FullHttpRequest head =
          new io.netty.handler.codec.http.DefaultFullHttpRequest(
              request.protocolVersion(),
              request.method(),
              request.uri(),
              Unpooled.EMPTY_BUFFER,
              request.headers(),
              io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
      head.setDecoderResult(request.decoderResult());
      e = new Exchange(ctx, head, new BodyRelay(ctx.channel(), BufferOrStream.BUFFER_LIMIT));
      bodyOwner = e;
      while (bodyOwner == e
          && waiting.peek() instanceof HttpContent piece
          && !(piece instanceof HttpRequest)) {
        waiting.poll();
        toBodyOwner(piece);
      }
    }
    current = e;
    return e;
  }

  private void toBodyOwner(HttpContent piece) {
    Exchange owner = bodyOwner;
    if (piece instanceof LastHttpContent) {
      bodyOwner = null;
    }
    owner.body.offer(piece);
  }

  // Reading stays on while requests wait, up to this many: toggling it per request would cost two
  // epoll_ctl system calls a request.
  private static final int MAX_PIPELINED = 16;

  /** The TCP connection: the channel itself for HTTP/1, the parent of an HTTP/2 stream. */
  private static Channel connection(Channel ch) {
    return ch instanceof Http2StreamChannel stream ? stream.parent() : ch;
  }

  /** The response is written: start the next waiting request, or read more. */
  private void next(ChannelHandlerContext ctx) {
    current = null;
    HttpObject queued = waiting.poll();
    if (queued instanceof HttpRequest request) {
      exchange(ctx, request).start();
      return;
    }
    io.netty.util.ReferenceCountUtil.release(queued); // none: a request always heads the queue
    busy = false;
    if (!ctx.channel().config().isAutoRead()) {
      ctx.channel().config().setAutoRead(true);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A reset or broken downstream: nothing to answer; the connection is done.
    ctx.close();
  }

  /** One request from arrival to the last byte of its response. */
  private final class Exchange {
    private final ChannelHandlerContext ctx;
    // The request's head; its body too unless the body streams through `body`.
    private final FullHttpRequest request;
    private final BodyRelay body;
    private final long startNanos = System.nanoTime();
    private final long startMillis = System.currentTimeMillis();
    private final boolean keepAlive;
    private final String method;
    private final String originalPath;
    private String authority;
    private HttpConnectionManagerConfig.Routes routes;
    private RouteTable.Match match;
    private RetryPolicy retry = RetryPolicy.NONE;
    private RouteEntry.ClusterChoice choice;
    private UpstreamCluster cluster;
    private FullHttpRequest upstreamRequest;
    private long deadlineNanos;
    private int attempt;
    private Endpoint endpoint;
    private long upstreamStartNanos;
    private String flags = "";
    private boolean holdsRequestSlot;
    private Workload peer = Workload.UNKNOWN_PEER;
    private RequestView view;
    private boolean holdsRetrySlot;
    private Channel upstreamChannel;
    private ScheduledFuture<?> timer;
    private boolean upstreamActive;
    // The streamed response being relayed downstream, once its head is sent.
    private HttpResponse streamedHead;
    private BodyRelay responseBody;

    Exchange(ChannelHandlerContext ctx, FullHttpRequest request, BodyRelay body) {
      this.ctx = ctx;
      this.request = request;
      this.body = body;
      this.keepAlive = HttpUtil.isKeepAlive(request);
      this.method = request.method().name();
      this.originalPath = request.uri();
    }

    void start() {
      hcm.stats.rqTotal.inc();
      hcm.stats.rqActive.inc();
      if (request.decoderResult().isFailure()) {
        hcm.stats.protocolError.inc();
        Throwable cause = request.decoderResult().cause();
        HttpResponseStatus status =
            cause instanceof TooLongHttpHeaderException
                ? HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
                : cause instanceof TooLongHttpLineException
                    ? HttpResponseStatus.REQUEST_URI_TOO_LONG
                    : cause instanceof TooLongFrameException
                        ? HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE
                        : HttpResponseStatus.BAD_REQUEST;
        flags = "DPE";
        localReply(status, "", true);
        return;
      }
      if (!request.protocolVersion().equals(HttpVersion.HTTP_1_1)
          && !request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
        hcm.stats.protocolError.inc(); // an HTTP/1 codec speaks 1.0 and 1.1 only, as Envoy's
        flags = "DPE";
        localReply(HttpResponseStatus.BAD_REQUEST, "", true);
        return;
      }
      HttpHeaders h = request.headers();
      authority = h.get(HttpHeaderNames.HOST);
      if (authority == null || authority.isEmpty()) {
        if (request.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
          flags = "DPE";
          localReply(HttpResponseStatus.BAD_REQUEST, "missing host header", true);
          return;
        }
        authority = "";
      }
      if (hcm.config.getStripAnyHostPort()) {
        authority = dev.mesh.proxy.route.Authority.withoutPort(authority);
      }
      if (hcm.exchange != null && hcm.inbound) {
        peer = PeerMetadataExchange.receive(h);
      }
      if (hcm.generateRequestId() && !h.contains("x-request-id")) {
        h.set("x-request-id", RequestIds.next());
      }
      if (hcm.useRemoteAddress()) {
        if (!hcm.config.getSkipXffAppend()) {
          String client =
              ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
          String xff = h.get("x-forwarded-for");
          h.set("x-forwarded-for", xff == null ? client : xff + "," + client);
        }
        h.set("x-forwarded-proto", scheme());
      } else if (!h.contains("x-forwarded-proto")) {
        h.set("x-forwarded-proto", scheme());
      }
      view = RequestView.of(authority, method, request.uri(), h);
      if (hcm.healthCheck != null) {
        Integer status = hcm.healthCheck.respond(view, hcm.failingHealthChecks());
        if (status != null) {
          localReply(HttpResponseStatus.valueOf(status), "", false);
          return;
        }
      }
      routes = hcm.routes;
      match = routes == null ? null : routes.table().select(view);
      if (match == null) {
        hcm.stats.noRoute.inc();
        flags = "NR";
        localReply(HttpResponseStatus.NOT_FOUND, "", false);
        return;
      }
      applyFaults();
    }

    /** Envoy's fault filters, in chain order: delays add up, the first abort answers. */
    private void applyFaults() {
      java.time.Duration delay = java.time.Duration.ZERO;
      FaultInjection.Decision abort = null;
      for (HttpConnectionManagerConfig.FaultFilter f : routes.faults()) {
        FaultInjection fault = f.forRoute(match);
        if (!fault.appliesTo(match.route().config().getRoute().getCluster())) {
          continue;
        }
        FaultInjection.Decision d = fault.decide(view);
        delay = delay.plus(d.delay());
        if (abort == null && d.aborts()) {
          abort = d;
        }
      }
      FaultInjection.Decision aborting = abort;
      if (delay.isZero()) {
        afterFaults(aborting);
        return;
      }
      hcm.stats.faultDelays.inc();
      flags = "DI";
      ctx.executor().schedule(() -> afterFaults(aborting), delay.toNanos(), TimeUnit.NANOSECONDS);
    }

    private void afterFaults(FaultInjection.Decision abort) {
      if (!ctx.channel().isActive()) {
        hcm.stats.rqActive.dec();
        request.release();
        closeBody();
        return;
      }
      if (abort != null) {
        hcm.stats.faultAborts.inc();
        flags = flags.isEmpty() ? "FI" : flags + ",FI";
        if (abort.grpcStatus() != null) {
          grpcReply(abort.grpcStatus(), "fault filter abort");
        } else {
          localReply(HttpResponseStatus.valueOf(abort.httpStatus()), "fault filter abort", false);
        }
        return;
      }
      route();
    }

    private void route() {
      Route route = match.route().config();
      switch (route.getActionCase()) {
        case DIRECT_RESPONSE -> {
          var d = route.getDirectResponse();
          String body = match.route().directResponseBody();
          localReply(HttpResponseStatus.valueOf(d.getStatus()), body, false, true);
          return;
        }
        case REDIRECT -> {
          redirect(route.getRedirect());
          return;
        }
        case ROUTE -> {}
        default -> {
          flags = "NR";
          localReply(HttpResponseStatus.NOT_FOUND, "", false);
          return;
        }
      }
      retry = routes.retryPolicy(route);
      choice = match.route().pickCluster();
      cluster = clusters.get(choice.cluster());
      if (cluster == null) {
        flags = "NC";
        localReply(HttpResponseStatus.SERVICE_UNAVAILABLE, "", false);
        return;
      }
      if (!cluster.circuitBreakers().tryStartRequest()) {
        cluster.stats().rqPendingOverflow.inc();
        flags = "UO";
        localReply(
            HttpResponseStatus.SERVICE_UNAVAILABLE,
            "upstream connect error or disconnect/reset before headers. reset reason: overflow",
            false);
        return;
      }
      holdsRequestSlot = true;
      String upgrade = upgradeType(request);
      if (upgrade != null) {
        upgrade(route, upgrade);
        return;
      }
      Duration timeout = match.route().timeout();
      // Envoy's route timeout runs from the end of the request: at once for a buffered body, when
      // its last piece arrives for a streamed one (so a bidirectional stream is not cut).
      deadlineNanos = Long.MAX_VALUE;
      if (!timeout.isZero()) {
        if (body == null) {
          deadlineNanos = startNanos + timeout.toNanos();
        } else {
          body.whenSourceEnds(() -> deadlineNanos = System.nanoTime() + timeout.toNanos());
        }
      }
      upstreamRequest = upstreamRequest(route, timeout);
      if (body == null) {
        mirror(route); // a streamed body is not mirrored (yet)
      }
      attempt(0);
    }

    /**
     * One attempt's request: the same headers (settled before the first attempt), its own view of
     * the body, since writing a body consumes it.
     */
    private HttpRequest attemptOf(FullHttpRequest up) {
      if (body != null) {
        return new io.netty.handler.codec.http.DefaultHttpRequest(
            HttpVersion.HTTP_1_1, up.method(), up.uri(), up.headers());
      }
      return new io.netty.handler.codec.http.DefaultFullHttpRequest(
          HttpVersion.HTTP_1_1,
          up.method(),
          up.uri(),
          up.content().retainedDuplicate(),
          up.headers(),
          up.trailingHeaders());
    }

    private String scheme() {
      return connection(ctx.channel()).pipeline().get(io.netty.handler.ssl.SslHandler.class) != null
          ? "https"
          : "http";
    }

    private FullHttpRequest upstreamRequest(Route route, Duration timeout) {
      FullHttpRequest up = request.retainedDuplicate();
      up.setProtocolVersion(HttpVersion.HTTP_1_1);
      HttpHeaders h = up.headers();
      removeHopByHop(h);
      // Netty's HTTP/2 conversion adds x-http2-* headers of its own; they are not the client's.
      for (var name :
          io.netty.handler.codec.http2.HttpConversionUtil.ExtensionHeaderNames.values()) {
        h.remove(name.text());
      }
      var action = route.getRoute();
      if (!action.getPrefixRewrite().isEmpty() && route.getMatch().hasPrefix()) {
        String prefix = route.getMatch().getPrefix();
        up.setUri(
            action.getPrefixRewrite()
                + up.uri().substring(Math.min(prefix.length(), up.uri().length())));
        h.set("x-envoy-original-path", originalPath);
      }
      if (!action.getHostRewriteLiteral().isEmpty()) {
        h.set(HttpHeaderNames.HOST, action.getHostRewriteLiteral());
      }
      if (!timeout.isZero()) {
        h.set("x-envoy-expected-rq-timeout-ms", Long.toString(timeout.toMillis()));
      }
      match.applyRequestHeaders(h);
      choice.requestHeaders().apply(h);
      if (hcm.exchange != null && !hcm.inbound) {
        hcm.exchange.send(h);
      }
      if (body == null) {
        HttpUtil.setContentLength(up, up.content().readableBytes());
      } else if (!HttpUtil.isContentLengthSet(up)) {
        HttpUtil.setTransferEncodingChunked(up, true);
      }
      return up;
    }

    /**
     * An upgrade request: refused with 403 unless upgrade_configs allow its type (as Envoy does),
     * else tunnelled to one upstream host.
     */
    private void upgrade(Route route, String type) {
      releaseRequestSlot();
      if (!hcm.upgrades.contains(type) || ctx.channel() instanceof Http2StreamChannel) {
        localReply(HttpResponseStatus.FORBIDDEN, "", false);
        return;
      }
      endpoint = cluster.pick(OriginalDestination.recorded(connection(ctx.channel())));
      if (endpoint == null) {
        flags = "UH";
        localReply(HttpResponseStatus.SERVICE_UNAVAILABLE, "no healthy upstream", false);
        return;
      }
      FullHttpRequest up = upstreamRequest(route, Duration.ZERO);
      up.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
      up.headers().set(HttpHeaderNames.UPGRADE, request.headers().get(HttpHeaderNames.UPGRADE));
      up.headers().remove("x-envoy-expected-rq-timeout-ms");
      up.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
      UpgradeTunnel.open(
          ctx.channel(),
          upstreamChannelType,
          cluster,
          endpoint,
          up,
          status -> {
            up.release();
            cluster.stats().rqTotal.inc();
            if (status == 0) {
              flags = "UF";
              localReply(
                  HttpResponseStatus.SERVICE_UNAVAILABLE,
                  "upstream connect error or disconnect/reset before headers. reset reason:"
                      + " connection failure",
                  true);
              return;
            }
            cluster.stats().response(status);
            hcm.stats.response(status);
            hcm.stats.rqActive.dec();
            log(status, 0, endpoint.toString(), null);
            request.release();
          });
    }

    /**
     * Envoy's request mirroring: a copy to each mirror cluster (for its fraction of requests), with
     * "-shadow" added to the host; its response is dropped and its failures ignored.
     */
    private void mirror(Route route) {
      for (var policy : route.getRoute().getRequestMirrorPoliciesList()) {
        if (policy.hasRuntimeFraction()
            && !FaultInjection.hit(policy.getRuntimeFraction().getDefaultValue())) {
          continue;
        }
        UpstreamCluster shadow = clusters.get(policy.getCluster());
        Endpoint target =
            shadow == null
                ? null
                : shadow.pick(OriginalDestination.recorded(connection(ctx.channel())));
        if (target == null) {
          continue;
        }
        FullHttpRequest copy = upstreamRequest.retainedDuplicate();
        String host = copy.headers().get(HttpHeaderNames.HOST, "");
        int colon = host.lastIndexOf(':');
        copy.headers()
            .set(
                HttpHeaderNames.HOST,
                colon > 0 && !host.endsWith("]")
                    ? host.substring(0, colon) + "-shadow" + host.substring(colon)
                    : host + "-shadow");
        shadow.stats().rqTotal.inc();
        Promise<HttpResponse> done = ctx.executor().newPromise();
        done.addListener(
            f -> {
              if (f.isSuccess()) {
                HttpResponse r = (HttpResponse) f.getNow();
                shadow.stats().response(r.status().code());
                io.netty.util.ReferenceCountUtil.release(r);
              }
            });
        UpstreamPool.acquire(
            ctx.channel().eventLoop(),
            upstreamChannelType,
            shadow,
            target.address(),
            ch -> {
              done.addListener(
                  f -> {
                    if (f.isSuccess()
                        && f.getNow() instanceof FullHttpResponse r
                        && HttpUtil.isKeepAlive(r)) {
                      UpstreamPool.release(ch);
                    } else {
                      if (f.isSuccess() && UpstreamPool.streamedBody(ch) != null) {
                        UpstreamPool.streamedBody(ch).close(); // a streamed shadow body: dropped
                      }
                      ch.close();
                    }
                  });
              UpstreamPool.send(ch, copy, done);
            },
            failure -> {
              copy.release();
              shadow.stats().cxConnectFail.inc();
            });
      }
    }

    private void attempt(int n) {
      attempt = n;
      endpoint = cluster.pick(OriginalDestination.recorded(connection(ctx.channel())));
      if (endpoint == null) {
        flags = "UH";
        finishUpstreamFailure(HttpResponseStatus.SERVICE_UNAVAILABLE, "no healthy upstream");
        return;
      }
      cluster.stats().rqTotal.inc();
      cluster.stats().rqActive.inc();
      endpoint.requestStarted();
      upstreamActive = true;
      upstreamStartNanos = System.nanoTime();
      Promise<HttpResponse> response = ctx.executor().newPromise();
      if (body == null) {
        armTimer(response);
      } else {
        body.whenSourceEnds(() -> armTimer(response));
      }
      UpstreamPool.acquire(
          ctx.channel().eventLoop(),
          upstreamChannelType,
          cluster,
          endpoint.address(),
          ch -> {
            if (response.isDone()) {
              UpstreamPool.release(ch); // timed out while connecting
              return;
            }
            upstreamChannel = ch;
            response.addListener(
                f -> {
                  if (!f.isSuccess()) {
                    ch.close(); // Envoy resets the upstream stream it gives up on
                  } else if (f.getNow() instanceof FullHttpResponse r && ch.isActive()) {
                    if (HttpUtil.isKeepAlive(r)) {
                      UpstreamPool.release(ch);
                    } else {
                      ch.close();
                    }
                  }
                });
            UpstreamPool.send(ch, attemptOf(upstreamRequest), response);
            if (body != null) {
              body.attach(ch, requestBodyEnds(ch, response));
            }
          },
          failure -> response.tryFailure(failure));
      response.addListener(
          f -> {
            if (!f.isSuccess() || f.getNow() instanceof FullHttpResponse) {
              cancelTimer(); // a streamed response keeps its timer until its body ends
              upstreamDone();
            }
            if (f.isSuccess()) {
              onResponse((HttpResponse) f.getNow());
            } else {
              onFailure(f.cause());
            }
          });
    }

    /**
     * The route's timeout and the retry policy's per-try timeout for an attempt; after a streamed
     * response's head has gone downstream, firing resets the exchange, as Envoy does.
     */
    private void armTimer(Promise<HttpResponse> response) {
      long remaining =
          deadlineNanos == Long.MAX_VALUE ? Long.MAX_VALUE : deadlineNanos - System.nanoTime();
      long tryNanos =
          retry.perTryTimeout().isZero()
              ? remaining
              : Math.min(remaining, retry.perTryTimeout().toNanos());
      if (tryNanos == Long.MAX_VALUE) {
        return;
      }
      timer =
          ctx.executor()
              .schedule(
                  () -> {
                    if (!response.tryFailure(new TimeoutException()) && streamedHead != null) {
                      cluster.stats().rqTimeout.inc();
                      hcm.stats.rqTimeout.inc();
                      abortStreamedResponse("UT");
                    }
                  },
                  Math.max(0, tryNanos),
                  TimeUnit.NANOSECONDS);
    }

    private void cancelTimer() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }

    /** The upstream request is over, for the endpoint's and the cluster's active counts. */
    private void upstreamDone() {
      if (upstreamActive) {
        upstreamActive = false;
        endpoint.requestFinished();
        cluster.stats().rqActive.dec();
      }
    }

    /** How a streamed request body's relay to one upstream attempt ends. */
    private BodyRelay.Ends requestBodyEnds(Channel ch, Promise<HttpResponse> response) {
      return new BodyRelay.Ends() {
        @Override
        public void written() {}

        @Override
        public void destinationFailed() {
          response.tryFailure(
              new UpstreamPool.UpstreamFailure(UpstreamPool.Failure.RESET, "write failed"));
        }

        @Override
        public void sourceFailed() {
          ch.close(); // the client went away mid-request: so does the upstream request
        }
      };
    }

    /** The downstream connection or stream closed: a stream in progress stops upstream too. */
    void downstreamGone() {
      if (body != null || streamedHead != null) {
        Channel up = upstreamChannel;
        if (up != null) {
          up.close();
        }
      }
    }

    private void closeBody() {
      if (body != null) {
        body.close();
      }
    }

    private void onResponse(HttpResponse response) {
      int status = response.status().code();
      cluster.stats().response(status);
      cluster.recordOutcome(endpoint, status);
      releaseRetrySlot();
      if (retry.retriesStatus(status) && canRetry()) {
        discard(response);
        retryLater();
        return;
      }
      if (attempt > 0 && retry.retriesStatus(status)) {
        flags = "URX";
      }
      sendUpstreamResponse(response);
    }

    private void onFailure(Throwable cause) {
      releaseRetrySlot();
      if (cause instanceof UpstreamPool.UpstreamFailure o
          && o.failure == UpstreamPool.Failure.OVERFLOW) {
        cluster.stats().rqPendingOverflow.inc();
        flags = "UO";
        finishUpstreamFailure(
            HttpResponseStatus.SERVICE_UNAVAILABLE,
            "upstream connect error or disconnect/reset before headers. reset reason: overflow");
        return;
      }
      cluster.recordOutcome(endpoint, cause instanceof TimeoutException ? 504 : 503);
      if (cause instanceof TimeoutException) {
        cluster.stats().rqTimeout.inc();
        boolean global = System.nanoTime() >= deadlineNanos;
        if (!global && retry.retriesTimeout() && canRetry()) {
          retryLater();
          return;
        }
        hcm.stats.rqTimeout.inc();
        flags = "UT";
        finishUpstreamFailure(HttpResponseStatus.GATEWAY_TIMEOUT, "upstream request timeout");
        return;
      }
      UpstreamPool.UpstreamFailure failure =
          cause instanceof UpstreamPool.UpstreamFailure uf
              ? uf
              : new UpstreamPool.UpstreamFailure(UpstreamPool.Failure.RESET, String.valueOf(cause));
      boolean connect = failure.failure != UpstreamPool.Failure.RESET;
      if (connect) {
        cluster.stats().cxConnectFail.inc();
        if (failure.failure == UpstreamPool.Failure.CONNECT_TIMEOUT) {
          cluster.stats().cxConnectTimeout.inc();
        }
      }
      boolean retriable = connect ? retry.retriesConnectFailure() : retry.retriesReset();
      if (retriable && canRetry()) {
        retryLater();
        return;
      }
      flags = (attempt > 0 && retriable ? "URX," : "") + (connect ? "UF" : "UC");
      finishUpstreamFailure(
          HttpResponseStatus.SERVICE_UNAVAILABLE,
          "upstream connect error or disconnect/reset before headers. reset reason: "
              + (connect ? "connection failure" : "connection termination"));
    }

    /** A response not sent downstream: a streamed one's connection cannot be reused. */
    private void discard(HttpResponse response) {
      if (response instanceof FullHttpResponse full) {
        full.release();
        return;
      }
      cancelTimer();
      upstreamDone();
      UpstreamPool.streamedBody(upstreamChannel).close();
      upstreamChannel.close();
    }

    /**
     * Within num_retries, the route's deadline and the cluster's max_retries, and while a streamed
     * request body can still be sent again.
     */
    private boolean canRetry() {
      if (attempt >= retry.numRetries() || System.nanoTime() >= deadlineNanos) {
        return false;
      }
      if (body != null && !body.replayable()) {
        return false;
      }
      if (!cluster.circuitBreakers().tryStartRetry()) {
        cluster.stats().retryOverflow.inc();
        return false;
      }
      holdsRetrySlot = true;
      return true;
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

    private void retryLater() {
      if (body != null) {
        body.detach();
      }
      upstreamChannel = null;
      cluster.stats().rqRetry.inc();
      int next = attempt + 1;
      ctx.executor()
          .schedule(() -> attempt(next), retry.backOff(next).toNanos(), TimeUnit.NANOSECONDS);
    }

    private void finishUpstreamFailure(HttpResponseStatus status, String text) {
      releaseRequestSlot();
      upstreamRequest.release();
      localReply(status, text, false);
    }

    private void sendUpstreamResponse(HttpResponse upstream) {
      releaseRequestSlot();
      upstreamRequest.release();
      if (body != null) {
        body.commit();
      }
      long serviceMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - upstreamStartNanos);
      HttpResponse out =
          upstream instanceof FullHttpResponse full
              ? new DefaultFullHttpResponse(
                  request.protocolVersion(),
                  full.status(),
                  full.content(),
                  full.headers(),
                  full.trailingHeaders())
              : new io.netty.handler.codec.http.DefaultHttpResponse(
                  request.protocolVersion(), upstream.status(), upstream.headers());
      HttpHeaders h = out.headers();
      removeHopByHop(h);
      h.set("x-envoy-upstream-service-time", Long.toString(serviceMillis));
      h.set(HttpHeaderNames.SERVER, hcm.serverName);
      if (hcm.exchange != null) {
        if (hcm.inbound) {
          hcm.exchange.send(h);
        } else {
          peer = PeerMetadataExchange.receive(h);
        }
      }
      match.applyResponseHeaders(h);
      choice.responseHeaders().apply(h);
      if (out instanceof FullHttpResponse full) {
        write(full, false, endpoint.toString());
      } else {
        stream(out, HttpUtil.isKeepAlive(upstream));
      }
    }

    /**
     * Sends a streamed response: its head now, then its body as the upstream delivers it; the
     * exchange ends when the last piece is written.
     */
    private void stream(HttpResponse out, boolean upstreamKeepAlive) {
      Channel up = upstreamChannel;
      BodyRelay relay = UpstreamPool.streamedBody(up);
      boolean close = prepareHead(out, false);
      if (!(ctx.channel() instanceof Http2StreamChannel) && !HttpUtil.isContentLengthSet(out)) {
        if (request.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
          HttpUtil.setTransferEncodingChunked(out, true);
        } else {
          close = true; // HTTP/1.0: the body ends with the connection
          out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
      }
      boolean closeAtEnd = close;
      streamedHead = out;
      responseBody = relay;
      ctx.writeAndFlush(out);
      String upstreamHost = endpoint.toString();
      relay.attach(
          ctx.channel(),
          new BodyRelay.Ends() {
            @Override
            public void written() {
              cancelTimer();
              upstreamDone();
              if (upstreamKeepAlive) {
                UpstreamPool.release(up);
              } else {
                up.close();
              }
              account(out, relay.bytes(), relay.trailers(), upstreamHost);
              afterLastWrite(true, closeAtEnd || body != null && !body.sourceEnded());
            }

            @Override
            public void destinationFailed() {
              up.close();
              abortStreamedResponse("DC");
            }

            @Override
            public void sourceFailed() {
              abortStreamedResponse("UR");
            }
          });
    }

    /**
     * A streamed response that cannot complete after its head was sent: the downstream sees the
     * connection (HTTP/1) or the stream (HTTP/2) reset, as Envoy's downstream does.
     */
    private void abortStreamedResponse(String flag) {
      HttpResponse head = streamedHead;
      if (head == null) {
        return;
      }
      streamedHead = null;
      cancelTimer();
      upstreamDone();
      long sent = responseBody.bytes();
      responseBody.close();
      upstreamChannel.close();
      flags = flags.isEmpty() ? flag : flags + "," + flag;
      account(head, sent, null, endpoint.toString());
      afterLastWrite(false, true);
    }

    private void redirect(RedirectAction r) {
      String scheme =
          r.getHttpsRedirect()
              ? "https"
              : r.getSchemeRedirect().isEmpty() ? "http" : r.getSchemeRedirect();
      String host =
          r.getHostRedirect().isEmpty()
              ? dev.mesh.proxy.route.Authority.withoutPort(authority)
              : r.getHostRedirect();
      if (r.getPortRedirect() != 0) {
        host = host + ":" + r.getPortRedirect();
      } else if (r.getHostRedirect().isEmpty()
          && authority.contains(":")
          && !r.getHttpsRedirect()) {
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
      FullHttpResponse out =
          new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.valueOf(code));
      out.headers().set(HttpHeaderNames.LOCATION, scheme + "://" + host + path + query);
      out.headers().set(HttpHeaderNames.SERVER, hcm.serverName);
      HttpUtil.setContentLength(out, 0);
      match.applyResponseHeaders(out.headers());
      write(out, false, null);
    }

    /** A gRPC error as a trailers-only response, as Envoy sends one. */
    private void grpcReply(int grpcStatus, String message) {
      FullHttpResponse out =
          new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      out.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/grpc");
      out.headers().set("grpc-status", Integer.toString(grpcStatus));
      out.headers().set("grpc-message", message);
      out.headers().set(HttpHeaderNames.SERVER, hcm.serverName);
      HttpUtil.setContentLength(out, 0);
      write(out, false, null);
    }

    private void localReply(HttpResponseStatus status, String body, boolean close) {
      localReply(status, body, close, false);
    }

    private void localReply(
        HttpResponseStatus status, String body, boolean close, boolean routeHeaders) {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      FullHttpResponse out =
          new DefaultFullHttpResponse(
              request.decoderResult().isSuccess()
                      && request.protocolVersion().equals(HttpVersion.HTTP_1_0)
                  ? HttpVersion.HTTP_1_0
                  : HttpVersion.HTTP_1_1,
              status,
              Unpooled.wrappedBuffer(bytes));
      if (bytes.length > 0) {
        out.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
      }
      HttpUtil.setContentLength(out, bytes.length);
      out.headers().set(HttpHeaderNames.SERVER, hcm.serverName);
      if (routeHeaders && match != null) {
        match.applyResponseHeaders(out.headers());
      }
      write(out, close, null);
    }

    private void write(FullHttpResponse out, boolean forceClose, String upstreamHost) {
      boolean close = prepareHead(out, forceClose);
      account(out, out.content().readableBytes(), out.trailingHeaders(), upstreamHost);
      ctx.writeAndFlush(out)
          .addListener((ChannelFutureListener) f -> afterLastWrite(f.isSuccess(), close));
    }

    /** Connection headers for the response; returns whether the connection closes after it. */
    private boolean prepareHead(HttpResponse out, boolean forceClose) {
      boolean stream = ctx.channel() instanceof Http2StreamChannel;
      DrainState drain = hcm.drain;
      boolean drainThis = drain != null && drain.closeNow();
      if (stream && drainThis) {
        goAway(((Http2StreamChannel) ctx.channel()).parent());
      }
      // An HTTP/2 stream ends with its response; the connection carries on.
      boolean close =
          !stream && (forceClose || drainThis || !keepAlive || !ctx.channel().isActive());
      if (close) {
        out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      } else if (!stream && request.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
        out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      }
      return close;
    }

    /** Stats, access log and Istio's metrics for the finished exchange. */
    private void account(
        HttpResponse out, long bytesSent, HttpHeaders trailers, String upstreamHost) {
      int status = out.status().code();
      hcm.stats.response(status);
      hcm.stats.rqActive.dec();
      log(status, bytesSent, upstreamHost, out.headers());
      if (hcm.istioMetrics != null) {
        String grpcStatus =
            trailers == null
                ? out.headers().get("grpc-status")
                : trailers.get("grpc-status", out.headers().get("grpc-status"));
        recordIstioMetrics(status, grpcStatus, bytesSent);
      }
      request.release();
    }

    /** The response's last byte is written (or failed): the connection goes on or closes. */
    private void afterLastWrite(boolean success, boolean close) {
      closeBody();
      ConnectionLifecycle.of(connection(ctx.channel())).requestFinished();
      if (close || !success) {
        ctx.channel().close();
      } else {
        next(ctx);
      }
    }

    private void recordIstioMetrics(int status, String grpcStatus, long bytesSent) {
      String contentType = request.headers().get(HttpHeaderNames.CONTENT_TYPE, "");
      boolean grpc = contentType.startsWith("application/grpc");
      String service =
          hcm.inbound
              ? IstioStandardMetrics.serviceOfAuthority(
                  authority == null ? "" : authority, hcm.self.namespace())
              : IstioStandardMetrics.serviceOfCluster(choice == null ? "" : choice.cluster());
      hcm.istioMetrics.record(
          new IstioStandardMetrics.Request(
              hcm.inbound,
              hcm.self,
              peer,
              service,
              grpc ? "grpc" : "http",
              status,
              grpcStatus,
              flags,
              (System.nanoTime() - startNanos) / 1e6,
              received(),
              bytesSent));
    }

    /** Request body bytes received from downstream. */
    private long received() {
      return body == null ? request.content().readableBytes() : body.bytes();
    }

    private void log(int status, long bytesSent, String upstreamHost, HttpHeaders response) {
      AccessLog log = hcm.accessLog;
      if (!log.enabled()) {
        return;
      }
      Channel connection = connection(ctx.channel());
      log.log(
          new LogEntry(
              startMillis,
              method,
              originalPath,
              request.headers().get(HttpHeaderNames.HOST),
              ctx.channel() instanceof Http2StreamChannel
                  ? "HTTP/2"
                  : request.protocolVersion().text(),
              status,
              flags,
              upstreamHost != null ? "via_upstream" : null,
              received(),
              bytesSent,
              TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos),
              request.headers(),
              response,
              upstreamHost,
              choice == null ? null : choice.cluster(),
              null,
              address(OriginalDestination.recorded(connection)),
              address((InetSocketAddress) connection.remoteAddress()),
              null,
              match == null ? null : match.route().config().getName()));
    }
  }

  private static String address(InetSocketAddress a) {
    return a == null ? null : a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  private static final class TimeoutException extends Exception {
    TimeoutException() {
      super("upstream request timeout", null, false, false);
    }
  }

  private static final io.netty.util.AttributeKey<Boolean> GOAWAY_SENT =
      io.netty.util.AttributeKey.valueOf("mesh.goaway");

  /** Tells an HTTP/2 client, once, to open no more streams on this connection. */
  private static void goAway(Channel connection) {
    if (connection.attr(GOAWAY_SENT).setIfAbsent(true) == null) {
      connection.writeAndFlush(
          new io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame(
              io.netty.handler.codec.http2.Http2Error.NO_ERROR));
    }
  }

  /** The lowercase Upgrade type of an HTTP/1.1 upgrade request, or null. */
  private static String upgradeType(FullHttpRequest r) {
    String upgrade = r.headers().get(HttpHeaderNames.UPGRADE);
    if (upgrade == null
        || !r.headers().containsValue(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE, true)) {
      return null;
    }
    return upgrade.trim().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Removes hop-by-hop headers: the standard ones and those the Connection header names. One pass
   * over the headers finds them; most messages have none or only Connection.
   */
  private static void removeHopByHop(HttpHeaders h) {
    List<String> found = null;
    for (var it = h.iteratorCharSequence(); it.hasNext(); ) {
      var e = it.next();
      CharSequence name = e.getKey();
      boolean hop = false;
      for (String n : HOP_BY_HOP) {
        if (io.netty.util.AsciiString.contentEqualsIgnoreCase(name, n)) {
          hop = !(n.equals("te") && "trailers".contentEquals(e.getValue()));
          break;
        }
      }
      if (hop) {
        if (found == null) {
          found = new java.util.ArrayList<>(4);
        }
        found.add(name.toString());
        if (io.netty.util.AsciiString.contentEqualsIgnoreCase(name, "connection")) {
          for (String token : e.getValue().toString().split(",")) {
            found.add(token.trim());
          }
        }
      }
    }
    if (found != null) {
      for (String n : found) {
        h.remove(n);
      }
    }
  }
}
