package dev.mesh.proxy.filters.network.metadataexchange;

import com.google.protobuf.Message;
import dev.mesh.proxy.network.NetworkFilter;
import dev.mesh.proxy.network.NetworkFilterContext;
import dev.mesh.proxy.network.NetworkFilterFactory;

/**
 * Istio's TCP metadata exchange. It learns the peer only through mutual TLS's istio-peer-exchange
 * ALPN, so over plaintext it learns nothing, in Istio as here: it installs nothing and the peer
 * stays unknown.
 */
public final class TcpMetadataExchangeFactory implements NetworkFilterFactory {
  @Override
  public String name() {
    return "istio.metadata_exchange";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange";
  }

  @Override
  public Message defaultConfig() {
    return null;
  }

  @Override
  public boolean terminal() {
    return false;
  }

  @Override
  public NetworkFilter compile(Message config, NetworkFilterContext context) {
    return (ch, info) -> {};
  }
}
