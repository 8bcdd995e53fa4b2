package dev.mesh.proxy.network;

import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * A listener filter, run on each accepted connection before its filter chain is chosen: it can
 * restore the connection's destination when accepted (original_dst), and look at its first bytes
 * without consuming them (tls_inspector, http_inspector), recording what it finds.
 */
public interface ListenerFilter {
  /** Called once the connection is accepted. */
  default void onAccept(Channel connection, ConnectionInfo info) {}

  /** How many of the first bytes it wants to see; 0 when none. */
  default int maxReadBytes() {
    return 0;
  }

  /**
   * Looks at the bytes read so far (not consumed; all of them each time); true once it has decided,
   * false while it needs more.
   */
  default boolean onData(ByteBuf firstBytes, ConnectionInfo info) {
    return true;
  }
}
