package dev.mesh.proxy.filters.network.rbac;

import dev.mesh.proxy.filters.common.rbac.RbacEngine;
import dev.mesh.proxy.filters.common.rbac.RbacRequest;
import dev.mesh.proxy.filters.common.rbac.RbacStats;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.logging.Logger;

/**
 * Envoy's network RBAC filter on one connection, ahead of the chain's other handlers: on the first
 * bytes (after TLS, so the peer's certificate is known) the shadow rules are counted and the
 * enforced rules decide; a denied connection is closed without passing anything on. With
 * ONE_TIME_ON_FIRST_BYTE an allowed connection is not checked again.
 */
final class NetworkRbacHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = Logger.getLogger(NetworkRbacHandler.class.getName());

  /** One filter's compiled config; either engine may be null (not configured). */
  record Config(RbacEngine enforced, RbacEngine shadow, boolean continuous, RbacStats stats) {}

  private final Config config;
  private final ConnectionInfo info;
  private boolean shadowChecked;
  private boolean denied;

  NetworkRbacHandler(Config config, ConnectionInfo info) {
    this.config = config;
    this.info = info;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (denied) {
      ReferenceCountUtil.release(msg);
      return;
    }
    RbacRequest request = RbacRequest.connection(info);
    if (config.shadow() != null && !shadowChecked) {
      shadowChecked = true;
      config.stats().count(config.shadow().evaluate(request, true), true);
    }
    if (config.enforced() != null) {
      RbacEngine.Result r = config.enforced().evaluate(request, false);
      config.stats().count(r, false);
      if (!r.allowed()) {
        denied = true;
        ReferenceCountUtil.release(msg);
        LOG.fine(
            () ->
                "connection from "
                    + ConnectionInfo.format(info.remoteAddress())
                    + " closed: "
                    + RbacEngine.deniedDetails(r.policy()));
        ctx.channel().close();
        return;
      }
    }
    ctx.fireChannelRead(msg);
    if (!config.continuous() && ctx.pipeline().context(this) != null) {
      ctx.pipeline().remove(this);
    }
  }
}
