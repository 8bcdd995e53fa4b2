package dev.mesh.local.kubelet.server;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.logging.Logger;

/**
 * The kubelet's paths, as the API server asks for them: {@code /healthz}, {@code
 * /containerLogs/{ns}/{pod}/{container}}, {@code /portForward/{ns}/{pod}} and {@code
 * /exec/{ns}/{pod}/{container}} (also with the pod's uid before the container, as the kubelet
 * accepts). Upgrades leave this handler: the connection then belongs to the stream's protocol.
 */
final class KubeletHttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  static final String NAME = "kubelet-api";
  static final String CODEC = "http";
  static final String AGGREGATOR = "http-aggregator";
  private static final Logger LOG = Logger.getLogger(KubeletHttpHandler.class.getName());

  private final KubeletPods pods;
  private final ExecutorService blocking;

  KubeletHttpHandler(KubeletPods pods, ExecutorService blocking) {
    this.pods = pods;
    this.blocking = blocking;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
    LOG.fine(
        () ->
            "kubelet API: "
                + req.method()
                + " "
                + req.uri()
                + " from "
                + ctx.channel().remoteAddress()
                + " headers "
                + req.headers().entries());
    QueryStringDecoder uri = new QueryStringDecoder(req.uri());
    List<String> path =
        List.of(uri.path().replaceAll("^/+|/+$", "").split("/")).stream()
            .map(s -> QueryStringDecoder.decodeComponent(s))
            .toList();
    Map<String, List<String>> query = uri.parameters();
    String what = path.isEmpty() ? "" : path.get(0);
    boolean get = req.method().equals(HttpMethod.GET);
    boolean upgradeMethod = get || req.method().equals(HttpMethod.POST);
    switch (what) {
      case "healthz" -> {
        if (path.size() == 1 && get) {
          respond(ctx, req, HttpResponseStatus.OK, "ok");
          return;
        }
      }
      case "containerLogs" -> {
        if (path.size() == 4 && get) {
          ContainerLogs.serve(ctx, req, pods, path.get(1), path.get(2), path.get(3), query);
          return;
        }
      }
      case "portForward" -> {
        if (path.size() >= 3 && path.size() <= 4 && upgradeMethod) {
          Target t = new Target(path.get(1), path.get(2), null);
          if (WebSockets.isUpgrade(req)) {
            PortForwardWebSocket.serve(ctx, req, pods, t, query, blocking);
          } else if (SpdyUpgrade.isUpgrade(req)) {
            PortForwardSpdy.serve(ctx, req, pods, t, blocking);
          } else {
            respond(ctx, req, HttpResponseStatus.BAD_REQUEST, "Upgrade request required");
          }
          return;
        }
      }
      case "exec" -> {
        if (path.size() >= 4 && path.size() <= 5 && upgradeMethod) {
          Target t = new Target(path.get(1), path.get(2), path.get(path.size() - 1));
          Exec.Options opts;
          try {
            opts = Exec.Options.parse(query);
          } catch (IllegalArgumentException e) {
            respond(ctx, req, HttpResponseStatus.BAD_REQUEST, e.getMessage());
            return;
          }
          if (WebSockets.isUpgrade(req)) {
            Exec.serveWebSocket(ctx, req, pods, t, opts, blocking);
          } else if (SpdyUpgrade.isUpgrade(req)) {
            Exec.serveSpdy(ctx, req, pods, t, opts, blocking);
          } else {
            respond(ctx, req, HttpResponseStatus.BAD_REQUEST, "Upgrade request required");
          }
          return;
        }
      }
      default -> {}
    }
    respond(ctx, req, HttpResponseStatus.NOT_FOUND, "404 page not found");
  }

  /** The pod (and container) a stream is about. */
  record Target(String namespace, String pod, String container) {
    @Override
    public String toString() {
      return namespace + "/" + pod + (container == null ? "" : "/" + container);
    }
  }

  /** A plain-text answer; the connection stays open if the client keeps it alive. */
  static void respond(
      ChannelHandlerContext ctx, FullHttpRequest req, HttpResponseStatus status, String body) {
    FullHttpResponse res =
        new DefaultFullHttpResponse(
            HttpVersion.HTTP_1_1,
            status,
            Unpooled.copiedBuffer(
                body + (body.endsWith("\n") ? "" : "\n"), StandardCharsets.UTF_8));
    res.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
        .set(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
    boolean keepAlive = HttpUtil.isKeepAlive(req);
    if (keepAlive) {
      res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    if (status.code() >= 400) {
      LOG.fine("kubelet API: " + req.method() + " " + req.uri() + " -> " + status.code());
    }
    var f = ctx.writeAndFlush(res);
    if (!keepAlive) {
      f.addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    LOG.fine("kubelet API: connection from " + ctx.channel().remoteAddress() + " failed: " + cause);
    ctx.close();
  }
}
