package dev.mesh.proxy.network;

import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.channel.Channel;

/**
 * A network filter as compiled for one filter chain: on each new connection of the chain it adds
 * what it needs to the connection's pipeline, in the chain's order (the terminal filter, tcp_proxy
 * or http_connection_manager, last).
 */
@FunctionalInterface
public interface NetworkFilter {
  void onNewConnection(Channel connection, ConnectionInfo info);
}
