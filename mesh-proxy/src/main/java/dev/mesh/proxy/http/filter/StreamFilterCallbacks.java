package dev.mesh.proxy.http.filter;

import dev.mesh.proxy.route.RouteTable;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.stream.StreamInfo;
import io.netty.channel.EventLoop;

/** What every filter of a stream can reach, in both directions. */
public interface StreamFilterCallbacks {
  StreamInfo streamInfo();

  ConnectionInfo connection();

  /**
   * The route of this request, chosen on first use from the route table in force when the stream
   * began (a later RDS update does not move it), or null when none matches.
   */
  RouteTable.Match route();

  /**
   * Forgets the chosen route, so the next {@link #route()} chooses again (after header changes).
   */
  void clearRouteCache();

  /**
   * This filter's most specific typed_per_filter_config for the chosen route (the route's, else its
   * virtual host's), as the filter's factory compiled it; null when there is none.
   */
  Object perFilterConfig();

  /** The stream's event loop: timers and continuations run there, never on another thread. */
  EventLoop dispatcher();

  /** Ends the stream abruptly: a reset for HTTP/2, a closed connection for HTTP/1. */
  void resetStream();

  /** The most a filter may buffer of this stream's body (Envoy's per-connection buffer limit). */
  int bufferLimit();
}
