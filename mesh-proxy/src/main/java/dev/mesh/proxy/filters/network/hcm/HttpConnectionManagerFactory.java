package dev.mesh.proxy.filters.network.hcm;

import com.google.protobuf.Message;
import dev.mesh.proxy.http.hcm.HcmConfig;
import dev.mesh.proxy.http.hcm.HcmContext;
import dev.mesh.proxy.network.NetworkFilter;
import dev.mesh.proxy.network.NetworkFilterContext;
import dev.mesh.proxy.network.NetworkFilterFactory;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;

/** envoy.filters.network.http_connection_manager. */
public final class HttpConnectionManagerFactory implements NetworkFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.network.http_connection_manager";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + HttpConnectionManager.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return HttpConnectionManager.getDefaultInstance();
  }

  @Override
  public String supportedFields() {
    return """
        envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager: \\
          stat_prefix codec_type route_config http_filters access_log use_remote_address \\
          server_name generate_request_id max_request_headers_kb strip_any_host_port \\
          common_http_protocol_options skip_xff_append upgrade_configs \\
          request_headers_timeout stream_idle_timeout rds
        envoy.extensions.filters.network.http_connection_manager.v3.Rds: config_source \\
          route_config_name
        envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.UpgradeConfig: \\
          upgrade_type enabled
        envoy.config.core.v3.HttpProtocolOptions: idle_timeout
        envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter: name typed_config
        """;
  }

  @Override
  public boolean terminal() {
    return true;
  }

  @Override
  public NetworkFilter compile(Message config, NetworkFilterContext context) {
    return new HttpConnectionManagerFilter(
        new HcmConfig(
            (HttpConnectionManager) config,
            new HcmContext(
                context.inbound(),
                context.node(),
                context.stats(),
                context.clusters(),
                context.upstreamChannelType(),
                context.serverFailing())));
  }
}
