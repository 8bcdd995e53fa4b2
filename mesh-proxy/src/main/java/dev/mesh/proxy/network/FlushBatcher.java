package dev.mesh.proxy.network;

import io.netty.channel.Channel;

/**
 * One flush for whatever was written to a connection during the current event-loop task: the
 * responses that an upstream read produces (head and body, several HTTP/2 streams) leave in one
 * write system call instead of one each.
 */
public final class FlushBatcher implements Runnable {
  private final Channel channel;
  private boolean scheduled;

  public FlushBatcher(Channel channel) {
    this.channel = channel;
  }

  public void schedule() {
    if (!scheduled) {
      scheduled = true;
      channel.eventLoop().execute(this);
    }
  }

  @Override
  public void run() {
    scheduled = false;
    channel.flush();
  }
}
