package dev.mesh.proxy.http.filter;

/** What a filter's decodeHeaders/encodeHeaders asks of the chain, as Envoy's enum of that name. */
public enum FilterHeadersStatus {
  /** The headers go on to the next filter. */
  CONTINUE,
  /**
   * The headers stop here; this filter still sees the body and trailers, and the chain goes on when
   * it returns CONTINUE from them or calls continueDecoding/continueEncoding.
   */
  STOP_ITERATION,
  /**
   * Everything stops here and is buffered, up to the buffer limit (413 for a request, 500 for a
   * response beyond it), until the filter continues; it sees the buffered body only then.
   */
  STOP_ALL_ITERATION_AND_BUFFER,
  /** As STOP_ALL_ITERATION_AND_BUFFER, but beyond the limit the source is paused, not refused. */
  STOP_ALL_ITERATION_AND_WATERMARK
}
