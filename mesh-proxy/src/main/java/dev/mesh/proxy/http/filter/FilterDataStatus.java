package dev.mesh.proxy.http.filter;

/** What a filter's decodeData/encodeData asks of the chain, as Envoy's enum of that name. */
public enum FilterDataStatus {
  /** The data goes on (after the headers, if this filter had stopped them). */
  CONTINUE,
  /**
   * The data stops here and is buffered with what came before, up to the buffer limit (413 for a
   * request, 500 for a response beyond it); the filter sees each later piece as it arrives.
   */
  STOP_ITERATION_AND_BUFFER,
  /** As STOP_ITERATION_AND_BUFFER, but beyond the limit the source is paused, not refused. */
  STOP_ITERATION_AND_WATERMARK,
  /** The data stops here and the filter has taken what it wants of it; nothing is buffered. */
  STOP_ITERATION_NO_BUFFER
}
