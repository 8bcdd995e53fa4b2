package dev.mesh.proxy.filters.http.metadataexchange;

import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.http.filter.EncoderFilterCallbacks;
import dev.mesh.proxy.http.filter.FilterHeadersStatus;
import dev.mesh.proxy.http.filter.StreamFilter;
import dev.mesh.proxy.istio.PeerMetadataExchange;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;

/**
 * Istio's metadata exchange on one stream: the client side adds this sidecar's metadata to the
 * request and learns its peer from the response; the server side learns its peer from the request
 * and adds its own metadata to the response. The peer goes into the stream's info; the apps never
 * see the headers.
 */
final class MetadataExchangeFilter implements StreamFilter {
  private final PeerMetadataExchange exchange;
  private final boolean inbound;
  private DecoderFilterCallbacks decoder;

  MetadataExchangeFilter(PeerMetadataExchange exchange, boolean inbound) {
    this.exchange = exchange;
    this.inbound = inbound;
  }

  @Override
  public void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks) {
    this.decoder = callbacks;
  }

  @Override
  public void setEncoderFilterCallbacks(EncoderFilterCallbacks callbacks) {}

  @Override
  public FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream) {
    if (inbound) {
      decoder.streamInfo().setPeer(PeerMetadataExchange.receive(headers.headers()));
    } else {
      exchange.send(headers.headers());
    }
    return FilterHeadersStatus.CONTINUE;
  }

  @Override
  public FilterHeadersStatus encodeHeaders(HttpResponse headers, boolean endStream) {
    if (inbound) {
      exchange.send(headers.headers());
    } else {
      decoder.streamInfo().setPeer(PeerMetadataExchange.receive(headers.headers()));
    }
    return FilterHeadersStatus.CONTINUE;
  }
}
