package dev.mesh.proxy.http.filter;

/** What a filter's decodeTrailers/encodeTrailers asks of the chain. */
public enum FilterTrailersStatus {
  CONTINUE,
  /** The trailers stop here until the filter continues. */
  STOP_ITERATION
}
