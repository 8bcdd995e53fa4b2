package dev.mesh.proxy.router;

import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.upstream.PendingStream;
import dev.mesh.proxy.upstream.PoolCallbacks;
import dev.mesh.proxy.upstream.ResponseDecoder;
import dev.mesh.proxy.upstream.UpstreamFailure;
import dev.mesh.proxy.upstream.UpstreamStream;
import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import java.util.ArrayDeque;

/**
 * One attempt of the router's request at one upstream host: what the router sends before the stream
 * is ready waits here (and beyond a high watermark holds the downstream back), then goes out in
 * order; what the upstream answers goes back to the router, which ignores an attempt it has given
 * up on.
 */
final class UpstreamRequest implements ResponseDecoder, PoolCallbacks {
  /** Above this much waiting for the upstream stream, the downstream stops being read. */
  private static final int HIGH_WATERMARK = 64 * 1024;

  private final RouterFilter router;
  final Endpoint endpoint;
  final int attempt;
  private final HttpRequest headers;
  private PendingStream pending;
  private UpstreamStream stream;
  private final ArrayDeque<Object> early = new ArrayDeque<>();
  private int earlyBytes;
  private boolean aboveWatermark;
  private final boolean headersEnd;
  private boolean requestEnded;
  private boolean active = true;
  boolean upstreamActive;

  /** An attempt whose request ends with its headers when {@code headersEnd}. */
  UpstreamRequest(
      RouterFilter router,
      Endpoint endpoint,
      int attempt,
      HttpRequest headers,
      boolean headersEnd) {
    this.router = router;
    this.endpoint = endpoint;
    this.attempt = attempt;
    this.headers = headers;
    this.headersEnd = headersEnd;
    this.requestEnded = headersEnd;
  }

  /** The pool's answer is on its way (unless it came at once). */
  void waitFor(PendingStream pending) {
    if (stream == null && active) {
      this.pending = pending;
    }
  }

  boolean ready() {
    return stream != null;
  }

  void sendData(ByteBuf data, boolean endStream) {
    if (!active) {
      return;
    }
    requestEnded |= endStream;
    if (stream != null) {
      stream.encodeData(data, endStream);
      return;
    }
    early.add(new Piece(data.retainedDuplicate(), endStream));
    earlyBytes += data.readableBytes();
    if (earlyBytes > HIGH_WATERMARK && !aboveWatermark) {
      aboveWatermark = true;
      router.upstreamAboveWatermark(this);
    }
  }

  void sendTrailers(HttpHeaders trailers) {
    if (!active) {
      return;
    }
    requestEnded = true;
    if (stream != null) {
      stream.encodeTrailers(trailers);
    } else {
      early.add(trailers);
    }
  }

  private record Piece(ByteBuf data, boolean end) {}

  @Override
  public void onPoolReady(UpstreamStream s) {
    if (!active) {
      s.reset();
      return;
    }
    pending = null;
    stream = s;
    router.upstreamReady(this, s);
    s.encodeHeaders(headers, headersEnd);
    while (!early.isEmpty() && active) {
      Object o = early.poll();
      if (o instanceof Piece p) {
        try {
          s.encodeData(p.data(), p.end());
        } finally {
          p.data().release();
        }
      } else {
        s.encodeTrailers((HttpHeaders) o);
      }
    }
    earlyBytes = 0;
    if (aboveWatermark) {
      aboveWatermark = false;
      router.upstreamBelowWatermark(this);
    }
  }

  @Override
  public void onPoolFailure(UpstreamFailure failure) {
    pending = null;
    if (active) {
      router.upstreamReset(this, failure);
    }
  }

  @Override
  public void decodeHeaders(HttpResponse response, boolean endStream) {
    if (active) {
      router.upstreamHeaders(this, response, endStream);
    }
  }

  @Override
  public void decodeData(ByteBuf data, boolean endStream) {
    if (active) {
      router.upstreamData(this, data, endStream);
    }
  }

  @Override
  public void decodeTrailers(HttpHeaders trailers) {
    if (active) {
      router.upstreamTrailers(this, trailers);
    }
  }

  @Override
  public void onReset(UpstreamFailure failure) {
    if (active) {
      router.upstreamReset(this, failure);
    }
  }

  @Override
  public void onAboveWriteBufferHighWatermark() {
    if (active) {
      router.upstreamAboveWatermark(this);
    }
  }

  @Override
  public void onBelowWriteBufferLowWatermark() {
    if (active) {
      router.upstreamBelowWatermark(this);
    }
  }

  /** Stops or resumes reading the response (the downstream's back-pressure). */
  void readDisable(boolean disable) {
    if (stream != null && active) {
      stream.readDisable(disable);
    }
  }

  boolean requestEnded() {
    return requestEnded;
  }

  String localAddress() {
    return stream == null ? null : stream.localAddress();
  }

  /**
   * The router is done with this attempt: a stream still in progress is reset (the connection of an
   * HTTP/1 exchange closes), one not yet had is given up.
   */
  void abandon(boolean reset) {
    if (!active) {
      return;
    }
    active = false;
    if (pending != null) {
      pending.cancel();
      pending = null;
    }
    if (stream != null && reset) {
      stream.reset();
    }
    drop();
  }

  /** The exchange ended normally; nothing more will be sent or taken. */
  void finished() {
    active = false;
    drop();
  }

  private void drop() {
    while (!early.isEmpty()) {
      if (early.poll() instanceof Piece p) {
        p.data().release();
      }
    }
    if (aboveWatermark) {
      aboveWatermark = false;
      router.upstreamBelowWatermark(this);
    }
  }
}
