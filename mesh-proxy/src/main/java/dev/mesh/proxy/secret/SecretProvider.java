package dev.mesh.proxy.secret;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;

/**
 * One secret as a TLS context uses it: static, or from an SDS subscription that every listener and
 * cluster naming the same (source, name) shares, as Envoy's SecretManager shares providers.
 */
public interface SecretProvider {
  String name();

  /** The last good secret, or null while none has arrived. */
  Secret current();

  /**
   * Whether whoever waits for this secret may stop waiting: it arrived, or its
   * initial_fetch_timeout passed without it.
   */
  boolean settled();

  /**
   * Runs {@code onChange} after each accepted update and when the initial fetch times out. Held
   * weakly: the caller keeps it reachable for as long as it wants to hear.
   */
  void watch(Runnable onChange);
}
