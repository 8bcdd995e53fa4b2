package dev.mesh.proxy.http.filter;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;

/**
 * A filter on the request path: called in http_filters order. The ByteBufs passed to it belong to
 * the chain; a filter that keeps one retains it.
 */
public interface StreamDecoderFilter extends StreamFilterBase {
  void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks);

  FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream);

  default FilterDataStatus decodeData(ByteBuf data, boolean endStream) {
    return FilterDataStatus.CONTINUE;
  }

  default FilterTrailersStatus decodeTrailers(HttpHeaders trailers) {
    return FilterTrailersStatus.CONTINUE;
  }
}
