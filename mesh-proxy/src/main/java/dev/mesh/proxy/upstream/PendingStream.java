package dev.mesh.proxy.upstream;

/** A request for an upstream stream that has not been answered yet. */
public interface PendingStream {
  /** The requester no longer wants it; a connection made for it stays in the pool. */
  void cancel();
}
