package dev.mesh.proxy.admin;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.config.EnvoyTypes;
import dev.mesh.proxy.listener.ActiveListener;
import dev.mesh.proxy.server.ProxyServer;
import io.envoyproxy.envoy.admin.v3.BootstrapConfigDump;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/** Envoy's admin interface, on the bootstrap's admin address (localhost in a sidecar). */
public final class AdminServer {
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().usingTypeRegistry(EnvoyTypes.DUMP_REGISTRY).preservingProtoFieldNames();
  private static final Set<String> POST_ONLY =
      Set.of("/quitquitquit", "/healthcheck/fail", "/healthcheck/ok", "/drain_listeners");

  private final ProxyServer proxy;
  private Channel channel;

  public AdminServer(ProxyServer proxy) {
    this.proxy = proxy;
  }

  public void start(InetSocketAddress address) throws InterruptedException {
    channel =
        new ServerBootstrap()
            .group(proxy.transport().workers())
            .channel(proxy.transport().serverChannel())
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline()
                        .addLast(new HttpServerCodec())
                        .addLast(new HttpObjectAggregator(1 << 20))
                        .addLast(new Handler());
                  }
                })
            .bind(address)
            .sync()
            .channel();
  }

  public int port() {
    if (channel == null) {
      throw new IllegalStateException("the bootstrap has no admin address");
    }
    return ((InetSocketAddress) channel.localAddress()).getPort();
  }

  public void stop() {
    if (channel != null) {
      channel.close().syncUninterruptibly();
    }
  }

  private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      QueryStringDecoder q = new QueryStringDecoder(req.uri());
      String path = q.path();
      if (POST_ONLY.contains(path) && !req.method().equals(HttpMethod.POST)) {
        reply(
            ctx,
            req,
            HttpResponseStatus.METHOD_NOT_ALLOWED,
            "text/plain",
            "This endpoint requires POST\n");
        return;
      }
      switch (path) {
        case "/ready" -> {
          boolean live = proxy.state() == ProxyServer.State.LIVE;
          reply(
              ctx,
              req,
              live ? HttpResponseStatus.OK : HttpResponseStatus.SERVICE_UNAVAILABLE,
              "text/plain",
              proxy.state() + "\n");
        }
        case "/server_info" ->
            reply(ctx, req, HttpResponseStatus.OK, "application/json", serverInfo());
        case "/stats" -> reply(ctx, req, HttpResponseStatus.OK, "text/plain", proxy.stats().text());
        case "/stats/prometheus" ->
            reply(
                ctx,
                req,
                HttpResponseStatus.OK,
                "text/plain; version=0.0.4",
                proxy.stats().prometheus());
        case "/clusters" -> reply(ctx, req, HttpResponseStatus.OK, "text/plain", clusters());
        case "/listeners" -> reply(ctx, req, HttpResponseStatus.OK, "text/plain", listeners());
        case "/certs" -> reply(ctx, req, HttpResponseStatus.OK, "application/json", certs());
        case "/config_dump" ->
            reply(ctx, req, HttpResponseStatus.OK, "application/json", configDump());
        case "/healthcheck/fail" -> {
          proxy.setHealthCheckFailed(true);
          reply(ctx, req, HttpResponseStatus.OK, "text/plain", "OK\n");
        }
        case "/healthcheck/ok" -> {
          proxy.setHealthCheckFailed(false);
          reply(ctx, req, HttpResponseStatus.OK, "text/plain", "OK\n");
        }
        case "/drain_listeners" -> {
          proxy.drainListeners(
              q.parameters().containsKey("inboundonly"), q.parameters().containsKey("graceful"));
          reply(ctx, req, HttpResponseStatus.OK, "text/plain", "OK\n");
        }
        case "/quitquitquit" -> {
          reply(ctx, req, HttpResponseStatus.OK, "text/plain", "OK\n");
          proxy.shutdownSoon();
        }
        default ->
            reply(
                ctx,
                req,
                HttpResponseStatus.NOT_FOUND,
                "text/plain",
                "invalid path: " + path + "\n");
      }
    }
  }

  private String serverInfo() {
    return "{\n  \"version\": \"mesh-proxy/"
        + ProxyServer.VERSION
        + "/"
        + dev.mesh.proxy.tls.TlsLibrary.name()
        + "\",\n  \"state\": \""
        + proxy.state()
        + "\",\n  \"uptime_current_epoch\": \""
        + proxy.uptimeSeconds()
        + "s\",\n"
        + "  \"node\": {\"id\": \""
        + proxy.bootstrap().getNode().getId()
        + "\", \"cluster\": \""
        + proxy.bootstrap().getNode().getCluster()
        + "\"}\n}\n";
  }

  private String clusters() {
    StringBuilder b = new StringBuilder();
    for (UpstreamCluster c : proxy.clusters().all()) {
      b.append(c.name()).append("::observability_name::").append(c.name()).append('\n');
      for (Endpoint e : c.endpoints()) {
        String p = c.name() + "::" + e + "::";
        b.append(p).append("rq_active::").append(e.activeRequests()).append('\n');
        b.append(p).append("weight::").append(e.weight()).append('\n');
        long now = System.nanoTime();
        String flags =
            (e.activeHealthy() ? "" : "/failed_active_hc")
                + (e.isEjected(now) ? "/failed_outlier_check" : "");
        b.append(p)
            .append("health_flags::")
            .append(flags.isEmpty() ? "healthy" : flags)
            .append('\n');
      }
    }
    return b.toString();
  }

  private String listeners() {
    StringBuilder b = new StringBuilder();
    for (ActiveListener l : proxy.listeners().all()) {
      b.append(l.config().getName())
          .append("::")
          .append(l.address().getAddress().getHostAddress())
          .append(':')
          .append(l.boundPort())
          .append('\n');
    }
    return b.toString();
  }

  /**
   * Envoy's /config_dump: bootstrap, clusters, listeners, route configs and (with xDS) endpoints,
   * in Envoy's shape: static ones from the bootstrap, dynamic ones with their version_info and
   * last_updated, listeners waiting for their routes under warming_state.
   */
  private String configDump() {
    var ads = proxy.ads();
    java.util.Set<String> dynamicClusters = new java.util.HashSet<>();
    java.util.Set<String> dynamicListeners = new java.util.HashSet<>();
    ClustersConfigDump.Builder clusters = ClustersConfigDump.newBuilder();
    ListenersConfigDump.Builder listeners = ListenersConfigDump.newBuilder();
    RoutesConfigDump.Builder routes = RoutesConfigDump.newBuilder();
    var endpoints = io.envoyproxy.envoy.admin.v3.EndpointsConfigDump.newBuilder();
    if (ads != null) {
      var types = ads.types();
      var cds = types.get(dev.mesh.proxy.xds.AdsClient.CDS);
      for (var c : ads.dynamicClusters()) {
        dynamicClusters.add(c.getName());
        clusters.addDynamicActiveClusters(
            ClustersConfigDump.DynamicCluster.newBuilder()
                .setVersionInfo(cds.acceptedVersion())
                .setCluster(Any.pack(Redaction.redact(c)))
                .setLastUpdated(timestamp(cds.lastUpdatedMillis())));
      }
      clusters.setVersionInfo(cds.acceptedVersion());
      var lds = types.get(dev.mesh.proxy.xds.AdsClient.LDS);
      listeners.setVersionInfo(lds.acceptedVersion());
      for (var l : ads.dynamicListeners()) {
        dynamicListeners.add(l.getName());
        listeners.addDynamicListeners(
            ListenersConfigDump.DynamicListener.newBuilder()
                .setName(l.getName())
                .setActiveState(
                    ListenersConfigDump.DynamicListenerState.newBuilder()
                        .setVersionInfo(lds.acceptedVersion())
                        .setListener(Any.pack(Redaction.redact(l)))
                        .setLastUpdated(timestamp(lds.lastUpdatedMillis()))));
      }
      for (var l : ads.warmingListeners()) {
        listeners.addDynamicListeners(
            ListenersConfigDump.DynamicListener.newBuilder()
                .setName(l.getName())
                .setWarmingState(
                    ListenersConfigDump.DynamicListenerState.newBuilder()
                        .setVersionInfo(lds.acceptedVersion())
                        .setListener(Any.pack(Redaction.redact(l)))));
      }
      var rds = types.get(dev.mesh.proxy.xds.AdsClient.RDS);
      for (var rc : ads.routeConfigs().values()) {
        routes.addDynamicRouteConfigs(
            RoutesConfigDump.DynamicRouteConfig.newBuilder()
                .setVersionInfo(rds.acceptedVersion())
                .setRouteConfig(Any.pack(rc))
                .setLastUpdated(timestamp(rds.lastUpdatedMillis())));
      }
      var eds = types.get(dev.mesh.proxy.xds.AdsClient.EDS);
      for (var cla : proxy.clusters().assignments().values()) {
        endpoints.addDynamicEndpointConfigs(
            io.envoyproxy.envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig.newBuilder()
                .setVersionInfo(eds.acceptedVersion())
                .setEndpointConfig(Any.pack(cla))
                .setLastUpdated(timestamp(eds.lastUpdatedMillis())));
      }
    }
    for (UpstreamCluster c : proxy.clusters().all()) {
      if (!dynamicClusters.contains(c.name())) {
        clusters.addStaticClusters(
            ClustersConfigDump.StaticCluster.newBuilder()
                .setCluster(Any.pack(Redaction.redact(c.config()))));
      }
    }
    for (ActiveListener l : proxy.listeners().all()) {
      if (dynamicListeners.contains(l.config().getName())) {
        continue;
      }
      listeners.addStaticListeners(
          ListenersConfigDump.StaticListener.newBuilder()
              .setListener(Any.pack(Redaction.redact(l.config()))));
      for (var fc : l.config().getFilterChainsList()) {
        for (var f : fc.getFiltersList()) {
          if (f.getTypedConfig().is(HttpConnectionManager.class)) {
            try {
              var hcm = f.getTypedConfig().unpack(HttpConnectionManager.class);
              if (hcm.hasRouteConfig()) {
                routes.addStaticRouteConfigs(
                    RoutesConfigDump.StaticRouteConfig.newBuilder()
                        .setRouteConfig(Any.pack(hcm.getRouteConfig())));
              }
            } catch (InvalidProtocolBufferException e) {
              // It was unpacked when the listener was built; it cannot fail here.
            }
          }
        }
      }
    }
    ConfigDump dump =
        ConfigDump.newBuilder()
            .addConfigs(
                Any.pack(
                    BootstrapConfigDump.newBuilder()
                        .setBootstrap(Redaction.redact(proxy.bootstrap()))
                        .build()))
            .addConfigs(Any.pack(clusters.build()))
            .addConfigs(Any.pack(listeners.build()))
            .addConfigs(Any.pack(routes.build()))
            .addConfigs(Any.pack(endpoints.build()))
            .addConfigs(Any.pack(secretsDump()))
            .build();
    try {
      return JSON.print(dump) + "\n";
    } catch (InvalidProtocolBufferException e) {
      return "{\"error\": \"" + e.getMessage().replace("\"", "'") + "\"}\n";
    }
  }

  /**
   * Envoy's SecretsConfigDump: static secrets, and SDS secrets active (arrived) or warming (not
   * yet), private keys redacted.
   */
  private io.envoyproxy.envoy.admin.v3.SecretsConfigDump secretsDump() {
    var dump = io.envoyproxy.envoy.admin.v3.SecretsConfigDump.newBuilder();
    for (var s : proxy.secrets().staticSecrets()) {
      dump.addStaticSecrets(
          io.envoyproxy.envoy.admin.v3.SecretsConfigDump.StaticSecret.newBuilder()
              .setName(s.name())
              .setLastUpdated(timestamp(s.lastUpdatedMillis()))
              .setSecret(Any.pack(Redaction.redact(s.secret()))));
    }
    for (var s : proxy.secrets().dynamicSecrets()) {
      var d =
          io.envoyproxy.envoy.admin.v3.SecretsConfigDump.DynamicSecret.newBuilder()
              .setName(s.name())
              .setVersionInfo(s.version());
      if (s.secret() == null) {
        dump.addDynamicWarmingSecrets(d);
      } else {
        dump.addDynamicActiveSecrets(
            d.setLastUpdated(timestamp(s.lastUpdatedMillis()))
                .setSecret(Any.pack(Redaction.redact(s.secret()))));
      }
    }
    return dump.build();
  }

  /**
   * Envoy's /certs: per TLS context in force (listeners' chains, then clusters' sockets), the CAs
   * it trusts and the chain it presents, with serial, SANs and validity.
   */
  private String certs() {
    var out = io.envoyproxy.envoy.admin.v3.Certificates.newBuilder();
    java.util.List<dev.mesh.proxy.tls.TlsContext> contexts = new java.util.ArrayList<>();
    for (ActiveListener l : proxy.listeners().all()) {
      contexts.addAll(l.tlsContexts());
    }
    for (UpstreamCluster c : proxy.clusters().all()) {
      contexts.addAll(c.tlsContexts());
    }
    for (var t : contexts) {
      var cert = io.envoyproxy.envoy.admin.v3.Certificate.newBuilder();
      t.trustedCa().forEach(x -> cert.addCaCert(details(x)));
      t.certificateChain().forEach(x -> cert.addCertChain(details(x)));
      out.addCertificates(cert);
    }
    try {
      return JSON.print(out) + "\n";
    } catch (InvalidProtocolBufferException e) {
      return "{\"error\": \"" + e.getMessage().replace("\"", "'") + "\"}\n";
    }
  }

  private static io.envoyproxy.envoy.admin.v3.CertificateDetails details(
      java.security.cert.X509Certificate x) {
    var d =
        io.envoyproxy.envoy.admin.v3.CertificateDetails.newBuilder()
            .setPath("<inline>")
            .setSerialNumber(x.getSerialNumber().toString(16))
            .setDaysUntilExpiration(
                Math.max(
                    0,
                    java.time.Duration.between(java.time.Instant.now(), x.getNotAfter().toInstant())
                        .toDays()))
            .setValidFrom(timestamp(x.getNotBefore().getTime()))
            .setExpirationTime(timestamp(x.getNotAfter().getTime()));
    try {
      var sans = x.getSubjectAlternativeNames();
      if (sans != null) {
        for (java.util.List<?> san : sans) {
          var n = io.envoyproxy.envoy.admin.v3.SubjectAlternateName.newBuilder();
          switch ((Integer) san.get(0)) {
            case 2 -> d.addSubjectAltNames(n.setDns((String) san.get(1)));
            case 6 -> d.addSubjectAltNames(n.setUri((String) san.get(1)));
            case 7 -> d.addSubjectAltNames(n.setIpAddress((String) san.get(1)));
            default -> {}
          }
        }
      }
    } catch (java.security.cert.CertificateParsingException e) {
      // a certificate whose SANs do not parse is shown without them
    }
    return d.build();
  }

  private static com.google.protobuf.Timestamp timestamp(long millis) {
    return com.google.protobuf.Timestamp.newBuilder()
        .setSeconds(millis / 1000)
        .setNanos((int) (millis % 1000) * 1_000_000)
        .build();
  }

  private static void reply(
      ChannelHandlerContext ctx,
      FullHttpRequest req,
      HttpResponseStatus status,
      String type,
      String body) {
    FullHttpResponse r =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1, status, Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
    HttpUtil.setContentLength(r, r.content().readableBytes());
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    var f = ctx.writeAndFlush(r);
    if (!keepAlive) {
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }
}
