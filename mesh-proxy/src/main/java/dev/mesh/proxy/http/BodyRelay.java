package dev.mesh.proxy.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The body of one streamed HTTP message, relayed piece by piece from the channel it arrives on to
 * the channel it leaves by. The source is read only as fast as the destination takes the pieces
 * (reading is off, and each completed write asks for one more read, as in Netty's proxy example),
 * so a slow reader on one side holds back a fast writer on the other instead of filling memory.
 *
 * <p>A request body also keeps what it has relayed, up to a limit, so that a retry can send it
 * again to another upstream; beyond the limit, or once the response is committed, it keeps nothing
 * and the request can no longer be retried (Envoy's rule for its retry buffer).
 */
final class BodyRelay {
  /** What the relay reports to the exchange it belongs to. */
  interface Ends {
    /** The last piece was written to the destination. */
    void written();

    /** The destination would not take a piece; the message cannot complete. */
    void destinationFailed();

    /** The source closed before the last piece. */
    void sourceFailed();
  }

  private final Channel source;
  private final ArrayDeque<HttpContent> early = new ArrayDeque<>();
  private List<HttpContent> kept;
  private final long keepLimit;
  private long keptBytes;
  private Channel destination;
  private Ends ends;
  private long bytes;
  private boolean sourceEnded;
  private boolean closed;
  private boolean sourceFailed;
  private HttpHeaders trailers;
  private Runnable onSourceEnd;

  /** A relay from the source, keeping up to keepLimit bytes for replay (0: none). */
  BodyRelay(Channel source, long keepLimit) {
    this.source = source;
    this.keepLimit = keepLimit;
    this.kept = keepLimit > 0 ? new ArrayList<>() : null;
    source.config().setAutoRead(false);
  }

  /** A piece from the source. */
  void offer(HttpContent piece) {
    if (closed) {
      piece.release();
      return;
    }
    bytes += piece.content().readableBytes();
    if (piece instanceof LastHttpContent last) {
      sourceEnded = true;
      trailers = last.trailingHeaders();
      if (onSourceEnd != null) {
        onSourceEnd.run();
      }
    }
    if (destination == null) {
      early.add(piece);
    } else {
      send(piece);
    }
  }

  /** Starts relaying to a destination: first what was kept for replay, then what arrived since. */
  void attach(Channel to, Ends ends) {
    if (closed) {
      return;
    }
    this.destination = to;
    this.ends = ends;
    if (kept != null) {
      for (HttpContent piece : kept) {
        write(piece.retainedDuplicate(), piece instanceof LastHttpContent);
      }
    }
    while (!early.isEmpty()) {
      send(early.poll());
    }
    if (sourceFailed) {
      ends.sourceFailed();
    } else if (!sourceEnded) {
      source.read();
    }
  }

  /** The source closed or failed before its last piece. */
  void sourceFailed() {
    if (sourceEnded || closed) {
      return;
    }
    sourceFailed = true;
    if (ends != null) {
      ends.sourceFailed();
    }
  }

  /** The destination failed before the message was done; what was kept stays for a replay. */
  void detach() {
    destination = null;
    ends = null;
  }

  /** Whether attach to a new destination would send the whole body again. */
  boolean replayable() {
    return kept != null;
  }

  /** The response is committed: nothing will be replayed. */
  void commit() {
    dropKept();
  }

  /** Runs once the source's last piece has arrived (at once if it has). */
  void whenSourceEnds(Runnable r) {
    if (sourceEnded) {
      r.run();
    } else {
      onSourceEnd = r;
    }
  }

  boolean sourceEnded() {
    return sourceEnded;
  }

  /** Body bytes received from the source so far. */
  long bytes() {
    return bytes;
  }

  /** The trailers of the last piece, or null before it. */
  HttpHeaders trailers() {
    return trailers;
  }

  /** Releases every piece held; later pieces are dropped. */
  void close() {
    closed = true;
    dropKept();
    while (!early.isEmpty()) {
      early.poll().release();
    }
    destination = null;
    ends = null;
  }

  private void send(HttpContent piece) {
    boolean last = piece instanceof LastHttpContent;
    if (kept != null) {
      keptBytes += piece.content().readableBytes();
      if (keptBytes <= keepLimit) {
        kept.add(piece);
        write(piece.retainedDuplicate(), last);
        return;
      }
      dropKept();
    }
    write(piece, last);
  }

  private void write(HttpContent piece, boolean last) {
    Channel to = destination;
    Ends notify = ends;
    to.writeAndFlush(piece)
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (to != destination || closed) {
                    return; // a relay detached from this destination since
                  }
                  if (!f.isSuccess()) {
                    notify.destinationFailed();
                  } else if (last) {
                    notify.written();
                  } else if (!sourceEnded) {
                    source.read();
                  }
                });
  }

  private void dropKept() {
    if (kept != null) {
      kept.forEach(HttpContent::release);
      kept = null;
    }
  }
}
