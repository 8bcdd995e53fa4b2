package dev.mesh.proxy.http.filter;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;

/** A filter on the response path: called in the reverse of http_filters order. */
public interface StreamEncoderFilter extends StreamFilterBase {
  void setEncoderFilterCallbacks(EncoderFilterCallbacks callbacks);

  FilterHeadersStatus encodeHeaders(HttpResponse headers, boolean endStream);

  default FilterDataStatus encodeData(ByteBuf data, boolean endStream) {
    return FilterDataStatus.CONTINUE;
  }

  default FilterTrailersStatus encodeTrailers(HttpHeaders trailers) {
    return FilterTrailersStatus.CONTINUE;
  }
}
