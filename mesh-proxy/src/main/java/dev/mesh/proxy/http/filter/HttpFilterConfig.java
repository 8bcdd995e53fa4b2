package dev.mesh.proxy.http.filter;

/** A filter's compiled config: it makes the filter of each new stream. */
@FunctionalInterface
public interface HttpFilterConfig {
  /** A new filter for one stream: a StreamDecoderFilter, a StreamEncoderFilter, or both. */
  StreamFilterBase newFilter();
}
