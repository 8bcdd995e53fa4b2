package dev.mesh.proxy.http;

import dev.mesh.proxy.cluster.ClusterManager;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.concurrent.TimeUnit;

/** Installs an http_connection_manager on an accepted connection. */
public final class HttpConnectionManagerFilter {
  private HttpConnectionManagerFilter() {}

  public static void install(
      ChannelPipeline p,
      HttpConnectionManagerConfig hcm,
      ClusterManager clusters,
      Class<? extends Channel> upstreamChannelType) {
    long idle = hcm.idleTimeout().toMillis();
    if (idle > 0) {
      p.addLast(new IdleStateHandler(0, 0, idle, TimeUnit.MILLISECONDS));
    }
    p.addLast(new HttpServerCodec(hcm.maxHeaderBytes(), hcm.maxHeaderBytes(), 8192));
    p.addLast(new HttpServerExpectContinueHandler());
    p.addLast(new HttpObjectAggregator(UpstreamPool.MAX_BODY));
    p.addLast(new DownstreamHttpHandler(hcm, clusters, upstreamChannelType));
  }
}
