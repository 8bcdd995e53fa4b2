package dev.mesh.proxy.filters.network.hcm;

import dev.mesh.proxy.http.hcm.ConnectionManager;
import dev.mesh.proxy.http.hcm.HcmConfig;
import dev.mesh.proxy.network.NetworkFilter;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.netty.channel.Channel;

/**
 * The http_connection_manager of one filter chain: its compiled config, installed per connection.
 */
public final class HttpConnectionManagerFilter implements NetworkFilter {
  private final HcmConfig config;

  HttpConnectionManagerFilter(HcmConfig config) {
    this.config = config;
  }

  /** Its compiled config, which RDS updates and draining reach through the listener. */
  public HcmConfig config() {
    return config;
  }

  @Override
  public void onNewConnection(Channel connection, ConnectionInfo info) {
    ConnectionManager.install(connection, config);
  }
}
