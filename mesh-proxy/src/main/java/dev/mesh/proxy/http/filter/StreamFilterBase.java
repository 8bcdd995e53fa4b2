package dev.mesh.proxy.http.filter;

import dev.mesh.proxy.stream.StreamInfo;

/** What every filter of a stream is told about the stream's end. */
public interface StreamFilterBase {
  /**
   * The stream is over, answered or reset: the filter cancels its timers and lets go of what it
   * holds; it calls no callbacks from here on.
   */
  default void onDestroy() {}

  /** The stream is over and its info final: for filters that report (stats, logs). */
  default void onStreamComplete(StreamInfo info) {}
}
