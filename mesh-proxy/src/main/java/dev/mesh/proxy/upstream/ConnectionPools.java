package dev.mesh.proxy.upstream;

import dev.mesh.proxy.cluster.UpstreamCluster;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;

/**
 * Streams to a cluster's hosts, from the connection pools of the caller's event loop: HTTP/2 when
 * the cluster says so, else keep-alive HTTP/1.1. The callbacks run on that loop.
 */
public final class ConnectionPools {
  private ConnectionPools() {}

  public static PendingStream newStream(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      ResponseDecoder decoder,
      PoolCallbacks callbacks) {
    return cluster.http2()
        ? Http2Pool.newStream(loop, channelType, cluster, address, decoder, callbacks)
        : Http1Pool.newStream(loop, channelType, cluster, address, decoder, callbacks);
  }
}
