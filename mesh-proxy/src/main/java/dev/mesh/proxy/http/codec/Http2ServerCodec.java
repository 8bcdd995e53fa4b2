package dev.mesh.proxy.http.codec;

import dev.mesh.proxy.network.FlushBatcher;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.collection.IntObjectMap;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The HTTP/2 server codec, after Netty's Http2FrameCodec: the frames of each stream go straight to
 * that stream's connection manager, with no channel or pipeline per stream. A request body is
 * acknowledged to the client (WINDOW_UPDATE) once the stream has taken it, and not while the stream
 * is read-disabled: HTTP/2's flow control is the back-pressure.
 */
public final class Http2ServerCodec extends ChannelInboundHandlerAdapter {
  private final ServerConnectionCallbacks callbacks;
  private final IntObjectMap<Stream> streams = new IntObjectHashMap<>();
  private ChannelHandlerContext ctx;
  private FlushBatcher flusher;
  private Http2Connection connection;
  private boolean goAwaySent;

  public Http2ServerCodec(ServerConnectionCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.flusher = new FlushBatcher(ctx.channel());
    this.connection = ctx.pipeline().get(Http2FrameCodec.class).connection();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof Http2HeadersFrame h) {
      onHeaders(h);
    } else if (msg instanceof Http2DataFrame d) {
      onData(d);
    } else if (msg instanceof Http2ResetFrame r) {
      Stream s = streams.remove(r.stream().id());
      if (s != null) {
        s.closed = true;
        s.decoder.onReset();
      }
    } else {
      ReferenceCountUtil.release(msg); // settings, pings, GOAWAY: the frame codec acts on them
    }
  }

  private void onHeaders(Http2HeadersFrame frame) {
    Http2FrameStream fs = frame.stream();
    Stream s = streams.get(fs.id());
    if (s == null) {
      Http2Headers h = frame.headers();
      if (h.method() == null || h.path() == null) {
        reset(fs, Http2Error.PROTOCOL_ERROR); // not a request HTTP/2 allows
        return;
      }
      s = new Stream(fs);
      streams.put(fs.id(), s);
      s.decoder = callbacks.newStream(s);
      s.requestDone = frame.isEndStream();
      s.decoder.decodeHeaders(request(h), frame.isEndStream());
      return;
    }
    if (s.requestDone) {
      return;
    }
    s.requestDone = true;
    s.decoder.decodeTrailers(fields(frame.headers(), new DefaultHttpHeaders(false)));
  }

  private void onData(Http2DataFrame frame) {
    try {
      Stream s = streams.get(frame.stream().id());
      if (s == null || s.requestDone) {
        consume(frame.stream(), frame.initialFlowControlledBytes());
        return;
      }
      s.requestDone = frame.isEndStream();
      if (s.readDisables > 0) {
        s.unconsumed += frame.initialFlowControlledBytes();
      } else {
        consume(frame.stream(), frame.initialFlowControlledBytes());
      }
      s.decoder.decodeData(frame.content(), frame.isEndStream());
    } finally {
      frame.release();
    }
  }

  private void consume(Http2FrameStream stream, int bytes) {
    if (bytes > 0 && stream.state() != Http2Stream.State.CLOSED) {
      ctx.write(new DefaultHttp2WindowUpdateFrame(bytes).stream(stream));
      flusher.schedule();
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof Http2FrameStreamEvent e) {
      Stream s = streams.get(e.stream().id());
      if (s != null) {
        if (e.type() == Http2FrameStreamEvent.Type.Writability) {
          s.writabilityChanged();
        } else if (e.stream().state() == Http2Stream.State.CLOSED) {
          streams.remove(e.stream().id());
          if (!s.closed) {
            s.closed = true;
            if (!s.responseDone) {
              s.decoder.onReset();
            }
          }
        }
      }
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    for (Stream s : List.copyOf(streams.values())) {
      s.writabilityChanged();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    List<Stream> open = new ArrayList<>(streams.values());
    streams.clear();
    for (Stream s : open) {
      if (!s.closed) {
        s.closed = true;
        if (!s.responseDone) {
          s.decoder.onReset();
        }
      }
    }
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof Http2FrameStreamException e) {
      Stream s = streams.remove(e.stream().id());
      if (s != null && !s.closed) {
        s.closed = true;
        s.decoder.onReset(); // the frame codec has reset the stream
      }
      return;
    }
    ctx.close();
  }

  private void reset(Http2FrameStream stream, Http2Error error) {
    ctx.write(new DefaultHttp2ResetFrame(error).stream(stream));
    flusher.schedule();
  }

  /** The request a HEADERS frame opens, in HTTP/1 terms: method, path, Host, the other fields. */
  private static HttpRequest request(Http2Headers h) {
    HttpHeaders headers = new DefaultHttpHeaders(false);
    CharSequence authority = h.authority();
    if (authority != null) {
      headers.set(HttpHeaderNames.HOST, authority);
    }
    fields(h, headers);
    return new DefaultHttpRequest(
        HttpVersion.HTTP_1_1,
        HttpMethod.valueOf(h.method().toString()),
        h.path().toString(),
        headers);
  }

  /** The regular fields of an HTTP/2 header block; cookie crumbs joined as HTTP/1 sends them. */
  private static HttpHeaders fields(Http2Headers h, HttpHeaders into) {
    StringBuilder cookie = null;
    for (Map.Entry<CharSequence, CharSequence> e : h) {
      CharSequence name = e.getKey();
      if (name.length() > 0 && name.charAt(0) == ':') {
        continue;
      }
      if (AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.COOKIE)) {
        cookie = cookie == null ? new StringBuilder() : cookie.append("; ");
        cookie.append(e.getValue());
        continue;
      }
      into.add(name, e.getValue());
    }
    if (cookie != null) {
      into.set(HttpHeaderNames.COOKIE, cookie.toString());
    }
    return into;
  }

  private static final List<AsciiString> CONNECTION_SPECIFIC =
      List.of(
          HttpHeaderNames.CONNECTION,
          HttpHeaderNames.KEEP_ALIVE,
          HttpHeaderNames.PROXY_CONNECTION,
          HttpHeaderNames.TRANSFER_ENCODING,
          HttpHeaderNames.UPGRADE,
          HttpHeaderNames.HOST);

  /** An HTTP/1-shaped header set as an HTTP/2 block: lowercase, no connection-specific fields. */
  static Http2Headers block(HttpHeaders h, Http2Headers into) {
    Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence();
    while (it.hasNext()) {
      Map.Entry<CharSequence, CharSequence> e = it.next();
      AsciiString name = AsciiString.of(e.getKey()).toLowerCase();
      if (CONNECTION_SPECIFIC.contains(name)
          || name.contentEquals(HttpHeaderNames.TE)
              && !AsciiString.contentEqualsIgnoreCase(e.getValue(), "trailers")) {
        continue;
      }
      into.add(name, e.getValue());
    }
    return into;
  }

  /** One stream of this connection. */
  private final class Stream implements ServerStream {
    final Http2FrameStream frameStream;
    StreamDecoder decoder;
    boolean requestDone;
    boolean responseDone;
    boolean closed;
    int readDisables;
    int unconsumed;
    boolean wasWritable = true;

    Stream(Http2FrameStream frameStream) {
      this.frameStream = frameStream;
    }

    @Override
    public void encodeHeaders(HttpResponse headers, boolean endStream) {
      if (responseDone || closed) {
        return;
      }
      Http2Headers block = new DefaultHttp2Headers(false);
      block.status(headers.status().codeAsText());
      block(headers.headers(), block);
      ChannelFuture f =
          ctx.write(new DefaultHttp2HeadersFrame(block, endStream).stream(frameStream));
      if (endStream) {
        finish(f);
      } else {
        flusher.schedule();
      }
    }

    @Override
    public void encodeData(ByteBuf data, boolean endStream) {
      if (responseDone || closed) {
        return;
      }
      ChannelFuture f =
          ctx.write(new DefaultHttp2DataFrame(data.retain(), endStream).stream(frameStream));
      if (endStream) {
        finish(f);
      } else {
        flusher.schedule();
      }
    }

    @Override
    public void encodeTrailers(HttpHeaders trailers) {
      if (responseDone || closed) {
        return;
      }
      finish(
          ctx.write(
              new DefaultHttp2HeadersFrame(block(trailers, new DefaultHttp2Headers(false)), true)
                  .stream(frameStream)));
    }

    private void finish(ChannelFuture written) {
      responseDone = true;
      flusher.schedule();
      written.addListener(
          (ChannelFutureListener)
              f -> {
                decoder.onEncodeComplete(f.isSuccess());
                if (!requestDone && !closed) {
                  // Answered before the request ended: the rest of it is not wanted.
                  closed = true;
                  streams.remove(frameStream.id());
                  Http2ServerCodec.this.reset(frameStream, Http2Error.NO_ERROR);
                }
              });
    }

    @Override
    public void reset() {
      if (closed) {
        return;
      }
      closed = true;
      responseDone = true;
      streams.remove(frameStream.id());
      Http2FrameStream fs = frameStream;
      if (fs.state() != Http2Stream.State.IDLE && fs.state() != Http2Stream.State.CLOSED) {
        Http2ServerCodec.this.reset(fs, Http2Error.INTERNAL_ERROR);
      }
    }

    @Override
    public void readDisable(boolean disable) {
      readDisables += disable ? 1 : -1;
      if (readDisables == 0 && unconsumed > 0) {
        int n = unconsumed;
        unconsumed = 0;
        consume(frameStream, n);
      }
    }

    @Override
    public boolean writable() {
      if (!ctx.channel().isWritable()) {
        return false;
      }
      Http2Stream s = connection.stream(frameStream.id());
      return s == null || connection.remote().flowController().isWritable(s);
    }

    void writabilityChanged() {
      boolean now = writable();
      if (now != wasWritable) {
        wasWritable = now;
        if (now) {
          decoder.onBelowWriteBufferLowWatermark();
        } else {
          decoder.onAboveWriteBufferHighWatermark();
        }
      }
    }

    @Override
    public boolean http2() {
      return true;
    }

    @Override
    public Channel connection() {
      return ctx.channel();
    }

    @Override
    public void goAway() {
      if (!goAwaySent) {
        goAwaySent = true;
        ctx.write(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        flusher.schedule();
      }
    }
  }
}
