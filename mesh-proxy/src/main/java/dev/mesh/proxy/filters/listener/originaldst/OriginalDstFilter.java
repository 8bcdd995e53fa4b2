package dev.mesh.proxy.filters.listener.originaldst;

import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.channel.Channel;

/** Envoy's original_dst: the connection's destination is where the client meant to go. */
final class OriginalDstFilter implements ListenerFilter {
  @Override
  public void onAccept(Channel connection, ConnectionInfo info) {
    info.restoreLocalAddress(OriginalDestination.of(connection));
  }
}
