package dev.mesh.proxy.filters.http.metadataexchange;

import com.google.protobuf.Message;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import dev.mesh.proxy.istio.PeerMetadataExchange;

/** Istio's istio.metadata_exchange, configured as Istio writes it: a TypedStruct. */
public final class MetadataExchangeFactory implements HttpFilterFactory {
  @Override
  public String name() {
    return "istio.metadata_exchange";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/io.istio.http.peer_metadata.Config";
  }

  @Override
  public Message defaultConfig() {
    return null;
  }

  @Override
  public HttpFilterConfig compile(Message config, HttpFilterContext context) {
    PeerMetadataExchange exchange = new PeerMetadataExchange(context.node());
    boolean inbound = context.inbound();
    return () -> new MetadataExchangeFilter(exchange, inbound);
  }
}
