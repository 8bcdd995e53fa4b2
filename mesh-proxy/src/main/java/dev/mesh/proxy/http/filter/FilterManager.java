package dev.mesh.proxy.http.filter;

import dev.mesh.proxy.route.RouteTable;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.stream.StreamInfo;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs one stream's HTTP filters as Envoy's filter manager does: the request's headers, body and
 * trailers through the decoder filters in http_filters order, the response's through the encoder
 * filters in reverse order. A filter can stop the iteration (with or without buffering what
 * follows, up to the buffer limit) and resume it later, from a timer or any other event on the
 * stream's event loop; what was held then goes on in order. Local replies are made here, for every
 * filter.
 *
 * <p>A ByteBuf given to a filter belongs to the chain: the manager releases it after the call, so a
 * filter that keeps one (the router, writing it upstream) retains it.
 */
public final class FilterManager {
  /** The stream around the filters: where the response goes after the last encoder filter. */
  public interface Callbacks {
    StreamInfo streamInfo();

    ConnectionInfo connection();

    EventLoop dispatcher();

    ByteBufAllocator alloc();

    int bufferLimit();

    RouteTable.Match route();

    void clearRouteCache();

    /** The compiled typed_per_filter_config of the route for the filter of that config name. */
    Object perFilterConfig(String filterName);

    boolean grpcRequest();

    boolean headRequest();

    void encodeHeaders(HttpResponse headers, boolean endStream);

    void encodeData(ByteBuf data, boolean endStream);

    void encodeTrailers(HttpHeaders trailers);

    void resetStream();

    /** Stops (true) or resumes reading the request from the downstream. */
    void readDisable(boolean disable);
  }

  /** A filter with its name (the per-route config's key), as the chain's config lists it. */
  public record Named(String name, StreamFilterBase filter) {}

  private enum State {
    CONTINUE,
    STOP_SINGLE,
    STOP_ALL_BUFFER,
    STOP_ALL_WATERMARK
  }

  private final Callbacks stream;
  private final DecoderEntry[] decoders;
  private final EncoderEntry[] encoders;
  private final List<StreamFilterBase> filters;
  private final List<DownstreamWatermarkCallbacks> watermarkCallbacks = new ArrayList<>(1);

  private HttpRequest requestHeaders;
  private ByteBuf bufferedRequest;
  private HttpHeaders requestTrailers;
  private boolean requestComplete;
  private boolean decoderAborted;
  private boolean requestReadDisabledByBuffer;

  private HttpResponse responseHeaders;
  private ByteBuf bufferedResponse;
  private HttpHeaders responseTrailers;
  private boolean responseComplete;
  private boolean responseEndReceived;
  private boolean headersSentToCodec;
  private boolean encoderAborted;

  private int inDecodeCallback;
  private Runnable preparedLocalReply;
  private boolean destroyed;

  public FilterManager(Callbacks stream, List<Named> chain) {
    this.stream = stream;
    List<DecoderEntry> d = new ArrayList<>(chain.size());
    List<EncoderEntry> e = new ArrayList<>(chain.size());
    List<StreamFilterBase> all = new ArrayList<>(chain.size());
    for (Named n : chain) {
      all.add(n.filter());
      if (n.filter() instanceof StreamDecoderFilter f) {
        DecoderEntry entry = new DecoderEntry(n.name(), d.size(), f);
        d.add(entry);
        f.setDecoderFilterCallbacks(entry);
      }
      if (n.filter() instanceof StreamEncoderFilter f) {
        e.add(0, new EncoderEntry(n.name(), f)); // encoders run in reverse order
      }
    }
    for (int i = 0; i < e.size(); i++) {
      e.get(i).index = i;
      e.get(i).filter.setEncoderFilterCallbacks(e.get(i));
    }
    this.decoders = d.toArray(new DecoderEntry[0]);
    this.encoders = e.toArray(new EncoderEntry[0]);
    this.filters = List.copyOf(all);
  }

  // ---- the request, from the codec ----

  public void decodeHeaders(HttpRequest headers, boolean endStream) {
    requestHeaders = headers;
    if (endStream) {
      requestComplete = true;
      stream.streamInfo().onRequestComplete();
    }
    decodeHeaders(0, headers, endStream);
  }

  public void decodeData(ByteBuf data, boolean endStream) {
    if (endStream) {
      requestComplete = true;
      stream.streamInfo().onRequestComplete();
    }
    decodeData(0, data, endStream);
  }

  public void decodeTrailers(HttpHeaders trailers) {
    requestTrailers = trailers;
    requestComplete = true;
    stream.streamInfo().onRequestComplete();
    decodeTrailers(0, trailers);
  }

  /** Whether the whole request has arrived from the downstream. */
  public boolean requestComplete() {
    return requestComplete;
  }

  /** Whether the response's last piece has gone to the codec. */
  public boolean responseComplete() {
    return responseComplete;
  }

  /** Whether response headers have gone to the codec (a local reply can then only reset). */
  public boolean responseStarted() {
    return headersSentToCodec;
  }

  public void onAboveWriteBufferHighWatermark() {
    for (DownstreamWatermarkCallbacks c : List.copyOf(watermarkCallbacks)) {
      c.onAboveWriteBufferHighWatermark();
    }
  }

  public void onBelowWriteBufferLowWatermark() {
    for (DownstreamWatermarkCallbacks c : List.copyOf(watermarkCallbacks)) {
      c.onBelowWriteBufferLowWatermark();
    }
  }

  /** The stream is over: every filter is told once, then the held data is released. */
  public void destroy() {
    if (destroyed) {
      return;
    }
    destroyed = true;
    StreamInfo info = stream.streamInfo();
    for (StreamFilterBase f : filters) {
      f.onStreamComplete(info);
    }
    for (StreamFilterBase f : filters) {
      f.onDestroy();
    }
    release();
  }

  /** The stream ends without its filters being told (they are torn down by destroy). */
  private void release() {
    if (bufferedRequest != null) {
      bufferedRequest.release();
      bufferedRequest = null;
    }
    if (bufferedResponse != null) {
      bufferedResponse.release();
      bufferedResponse = null;
    }
  }

  // ---- decoding ----

  private void decodeHeaders(int from, HttpRequest headers, boolean endStream) {
    for (int i = from; i < decoders.length; i++) {
      if (decoderAborted || destroyed) {
        return;
      }
      DecoderEntry e = decoders[i];
      e.endStream = endStream;
      FilterHeadersStatus status;
      inDecodeCallback++;
      try {
        status = e.filter.decodeHeaders(headers, endStream);
      } finally {
        inDecodeCallback--;
      }
      if (runPreparedLocalReply() || !e.afterHeaders(status)) {
        return;
      }
    }
  }

  private void decodeData(int from, ByteBuf data, boolean endStream) {
    for (int i = from; i < decoders.length; i++) {
      if (decoderAborted || destroyed) {
        return;
      }
      DecoderEntry e = decoders[i];
      if (e.stoppedAll()) {
        bufferRequest(data, e.state == State.STOP_ALL_WATERMARK);
        return;
      }
      if (e.endStream) {
        return; // this filter and those after it have had their last piece
      }
      e.endStream = endStream;
      FilterDataStatus status;
      inDecodeCallback++;
      try {
        status = e.filter.decodeData(data, endStream);
      } finally {
        inDecodeCallback--;
      }
      if (runPreparedLocalReply()) {
        return;
      }
      if (status == FilterDataStatus.CONTINUE) {
        if (e.state == State.STOP_SINGLE) {
          bufferedRequest = append(bufferedRequest, data);
          continueDecoding(e);
          return;
        }
        continue;
      }
      e.state = State.STOP_SINGLE;
      if (status == FilterDataStatus.STOP_ITERATION_AND_BUFFER
          || status == FilterDataStatus.STOP_ITERATION_AND_WATERMARK) {
        bufferRequest(data, status == FilterDataStatus.STOP_ITERATION_AND_WATERMARK);
      } else if (endStream && requestTrailers == null && bufferedRequest == null) {
        // The end must still reach the later filters when this one continues.
        bufferedRequest = Unpooled.EMPTY_BUFFER;
      }
      return;
    }
  }

  private void decodeTrailers(int from, HttpHeaders trailers) {
    for (int i = from; i < decoders.length; i++) {
      if (decoderAborted || destroyed) {
        return;
      }
      DecoderEntry e = decoders[i];
      if (e.stoppedAll() || e.endStream) {
        return;
      }
      e.endStream = true;
      FilterTrailersStatus status;
      inDecodeCallback++;
      try {
        status = e.filter.decodeTrailers(trailers);
      } finally {
        inDecodeCallback--;
      }
      if (runPreparedLocalReply()) {
        return;
      }
      if (status == FilterTrailersStatus.CONTINUE) {
        if (e.state == State.STOP_SINGLE) {
          continueDecoding(e);
          return;
        }
        continue;
      }
      if (e.state == State.CONTINUE) {
        e.state = State.STOP_SINGLE;
      }
      return;
    }
  }

  private void continueDecoding(DecoderEntry e) {
    if (destroyed || decoderAborted || e.state == State.CONTINUE) {
      return;
    }
    boolean fromCurrent = e.stoppedAll();
    e.state = State.CONTINUE;
    if (!e.headersContinued) {
      e.headersContinued = true;
      decodeHeaders(
          e.index + 1,
          requestHeaders,
          requestComplete && bufferedRequest == null && requestTrailers == null);
    }
    boolean hadTrailers = requestTrailers != null;
    int next = fromCurrent ? e.index : e.index + 1;
    if (bufferedRequest != null) {
      ByteBuf b = bufferedRequest;
      bufferedRequest = null;
      try {
        decodeData(next, b, requestComplete && !hadTrailers);
      } finally {
        b.release();
      }
    }
    if (hadTrailers) {
      decodeTrailers(next, requestTrailers);
    }
    if (requestReadDisabledByBuffer && bufferedRequest == null) {
      requestReadDisabledByBuffer = false;
      stream.readDisable(false);
    }
  }

  private void bufferRequest(ByteBuf data, boolean watermark) {
    bufferedRequest = append(bufferedRequest, data);
    int limit = stream.bufferLimit();
    if (limit > 0 && bufferedRequest.readableBytes() > limit) {
      if (watermark) {
        if (!requestReadDisabledByBuffer) {
          requestReadDisabledByBuffer = true;
          stream.readDisable(true);
        }
      } else {
        sendLocalReply(413, "Payload Too Large", null, null, "request_payload_too_large");
      }
    }
  }

  private ByteBuf append(ByteBuf held, ByteBuf data) {
    if (held == data) {
      return held;
    }
    if (held == null) {
      return data.retain();
    }
    CompositeByteBuf c;
    if (held instanceof CompositeByteBuf composite) {
      c = composite;
    } else {
      c = stream.alloc().compositeBuffer(Integer.MAX_VALUE);
      c.addComponent(true, held);
    }
    c.addComponent(true, data.retain());
    return c;
  }

  // ---- encoding ----

  private void encodeHeaders(int from, HttpResponse headers, boolean endStream) {
    responseHeaders = headers;
    for (int i = from; i < encoders.length; i++) {
      if (encoderAborted || destroyed) {
        return;
      }
      EncoderEntry e = encoders[i];
      e.endStream = endStream;
      FilterHeadersStatus status = e.filter.encodeHeaders(headers, endStream);
      if (encoderAborted || !e.afterHeaders(status)) {
        return;
      }
    }
    headersToCodec(headers, endStream);
  }

  private void encodeData(int from, ByteBuf data, boolean endStream) {
    for (int i = from; i < encoders.length; i++) {
      if (encoderAborted || destroyed) {
        return;
      }
      EncoderEntry e = encoders[i];
      if (e.stoppedAll()) {
        bufferResponse(data, e.state == State.STOP_ALL_WATERMARK);
        return;
      }
      if (e.endStream) {
        return;
      }
      e.endStream = endStream;
      FilterDataStatus status = e.filter.encodeData(data, endStream);
      if (encoderAborted) {
        return;
      }
      if (status == FilterDataStatus.CONTINUE) {
        if (e.state == State.STOP_SINGLE) {
          bufferedResponse = append(bufferedResponse, data);
          continueEncoding(e);
          return;
        }
        continue;
      }
      e.state = State.STOP_SINGLE;
      if (status == FilterDataStatus.STOP_ITERATION_AND_BUFFER
          || status == FilterDataStatus.STOP_ITERATION_AND_WATERMARK) {
        bufferResponse(data, status == FilterDataStatus.STOP_ITERATION_AND_WATERMARK);
      } else if (endStream && responseTrailers == null && bufferedResponse == null) {
        bufferedResponse = Unpooled.EMPTY_BUFFER;
      }
      return;
    }
    if (destroyed) {
      return;
    }
    if (endStream) {
      responseComplete = true;
    }
    stream.encodeData(data, endStream);
  }

  private void encodeTrailers(int from, HttpHeaders trailers) {
    for (int i = from; i < encoders.length; i++) {
      if (encoderAborted || destroyed) {
        return;
      }
      EncoderEntry e = encoders[i];
      if (e.stoppedAll() || e.endStream) {
        return;
      }
      e.endStream = true;
      FilterTrailersStatus status = e.filter.encodeTrailers(trailers);
      if (encoderAborted) {
        return;
      }
      if (status == FilterTrailersStatus.CONTINUE) {
        if (e.state == State.STOP_SINGLE) {
          continueEncoding(e);
          return;
        }
        continue;
      }
      if (e.state == State.CONTINUE) {
        e.state = State.STOP_SINGLE;
      }
      return;
    }
    if (!destroyed) {
      responseComplete = true;
      stream.encodeTrailers(trailers);
    }
  }

  private void headersToCodec(HttpResponse headers, boolean endStream) {
    if (destroyed) {
      return;
    }
    headersSentToCodec = true;
    if (endStream) {
      responseComplete = true;
    }
    stream.encodeHeaders(headers, endStream);
  }

  private void continueEncoding(EncoderEntry e) {
    if (destroyed || encoderAborted || e.state == State.CONTINUE || responseHeaders == null) {
      return;
    }
    boolean fromCurrent = e.stoppedAll();
    e.state = State.CONTINUE;
    boolean complete = responseEndReceived;
    if (!e.headersContinued) {
      e.headersContinued = true;
      encodeHeaders(
          e.index + 1,
          responseHeaders,
          complete && bufferedResponse == null && responseTrailers == null);
    }
    boolean hadTrailers = responseTrailers != null;
    int next = fromCurrent ? e.index : e.index + 1;
    if (bufferedResponse != null) {
      ByteBuf b = bufferedResponse;
      bufferedResponse = null;
      try {
        encodeData(next, b, complete && !hadTrailers);
      } finally {
        b.release();
      }
    }
    if (hadTrailers) {
      encodeTrailers(next, responseTrailers);
    }
  }

  private void bufferResponse(ByteBuf data, boolean watermark) {
    bufferedResponse = append(bufferedResponse, data);
    int limit = stream.bufferLimit();
    if (!watermark && limit > 0 && bufferedResponse.readableBytes() > limit) {
      sendLocalReply(500, "Internal Server Error", null, null, "response_payload_too_large");
    }
  }

  // ---- local replies ----

  private boolean runPreparedLocalReply() {
    if (preparedLocalReply == null || inDecodeCallback > 0) {
      return false;
    }
    Runnable r = preparedLocalReply;
    preparedLocalReply = null;
    r.run();
    return true;
  }

  /**
   * Envoy's sendLocalReply: before any response, through every encoder filter (after the decoder
   * callback in progress returns, which then stops the chain); once response headers exist but have
   * not left, straight to the codec; once they have left, a reset.
   */
  public void sendLocalReply(
      int status,
      String body,
      Consumer<HttpHeaders> modifyHeaders,
      Integer grpcStatus,
      String details) {
    if (destroyed || decoderAborted && preparedLocalReply != null) {
      return;
    }
    StreamInfo info = stream.streamInfo();
    if (details != null) {
      info.setResponseCodeDetails(details);
    }
    if (responseHeaders == null) {
      decoderAborted = true;
      Runnable send =
          () -> {
            LocalReply reply = reply(status, body, modifyHeaders, grpcStatus);
            boolean headersOnly = !reply.body().isReadable() || stream.headRequest();
            responseEndReceived = true;
            encodeHeaders(0, reply.headers(), headersOnly);
            if (!headersOnly) {
              encodeData(0, reply.body(), true);
            }
            reply.body().release();
          };
      if (inDecodeCallback > 0) {
        preparedLocalReply = send;
      } else {
        send.run();
      }
    } else if (!headersSentToCodec) {
      encoderAborted = true;
      if (bufferedResponse != null) {
        bufferedResponse.release();
        bufferedResponse = null;
      }
      LocalReply reply = reply(status, body, modifyHeaders, grpcStatus);
      boolean headersOnly = !reply.body().isReadable() || stream.headRequest();
      headersToCodec(reply.headers(), headersOnly);
      if (!headersOnly) {
        responseComplete = true;
        stream.encodeData(reply.body(), true);
      }
      reply.body().release();
    } else {
      stream.resetStream();
    }
  }

  private LocalReply reply(
      int status, String body, Consumer<HttpHeaders> modifyHeaders, Integer grpcStatus) {
    LocalReply reply = LocalReply.of(status, body, grpcStatus, stream.grpcRequest());
    RouteTable.Match route = stream.route();
    if (route != null) {
      route.applyResponseHeaders(reply.headers().headers());
    }
    if (modifyHeaders != null) {
      modifyHeaders.accept(reply.headers().headers());
    }
    return reply;
  }

  // ---- the filters' side ----

  private abstract class Entry implements StreamFilterCallbacks {
    final String name;
    int index;
    State state = State.CONTINUE;
    boolean headersContinued;
    boolean endStream;

    Entry(String name, int index) {
      this.name = name;
      this.index = index;
    }

    boolean stoppedAll() {
      return state == State.STOP_ALL_BUFFER || state == State.STOP_ALL_WATERMARK;
    }

    /** Records a headers status; true when the headers go on to the next filter. */
    boolean afterHeaders(FilterHeadersStatus status) {
      switch (status) {
        case CONTINUE -> {
          headersContinued = true;
          return true;
        }
        case STOP_ITERATION -> state = State.STOP_SINGLE;
        case STOP_ALL_ITERATION_AND_BUFFER -> state = State.STOP_ALL_BUFFER;
        case STOP_ALL_ITERATION_AND_WATERMARK -> state = State.STOP_ALL_WATERMARK;
      }
      return false;
    }

    @Override
    public StreamInfo streamInfo() {
      return stream.streamInfo();
    }

    @Override
    public ConnectionInfo connection() {
      return stream.connection();
    }

    @Override
    public RouteTable.Match route() {
      return stream.route();
    }

    @Override
    public void clearRouteCache() {
      stream.clearRouteCache();
    }

    @Override
    public Object perFilterConfig() {
      return stream.perFilterConfig(name);
    }

    @Override
    public EventLoop dispatcher() {
      return stream.dispatcher();
    }

    @Override
    public void resetStream() {
      if (!destroyed) {
        stream.resetStream();
      }
    }

    @Override
    public int bufferLimit() {
      return stream.bufferLimit();
    }

    public void sendLocalReply(
        int status,
        String body,
        Consumer<HttpHeaders> modifyHeaders,
        Integer grpcStatus,
        String details) {
      FilterManager.this.sendLocalReply(status, body, modifyHeaders, grpcStatus, details);
    }
  }

  private final class DecoderEntry extends Entry implements DecoderFilterCallbacks {
    final StreamDecoderFilter filter;

    DecoderEntry(String name, int index, StreamDecoderFilter filter) {
      super(name, index);
      this.filter = filter;
    }

    @Override
    public void continueDecoding() {
      FilterManager.this.continueDecoding(this);
    }

    @Override
    public HttpRequest requestHeaders() {
      return requestHeaders;
    }

    @Override
    public ByteBuf decodingBuffer() {
      return bufferedRequest;
    }

    @Override
    public void encodeHeaders(HttpResponse headers, boolean endStream) {
      if (!destroyed && !encoderAborted) {
        responseEndReceived |= endStream;
        FilterManager.this.encodeHeaders(0, headers, endStream);
      }
    }

    @Override
    public void encodeData(ByteBuf data, boolean endStream) {
      if (!destroyed && !encoderAborted) {
        responseEndReceived |= endStream;
        FilterManager.this.encodeData(0, data, endStream);
      }
    }

    @Override
    public void encodeTrailers(HttpHeaders trailers) {
      if (!destroyed && !encoderAborted) {
        responseTrailers = trailers;
        responseEndReceived = true;
        FilterManager.this.encodeTrailers(0, trailers);
      }
    }

    @Override
    public void onDecoderFilterAboveWriteBufferHighWatermark() {
      stream.readDisable(true);
    }

    @Override
    public void onDecoderFilterBelowWriteBufferLowWatermark() {
      stream.readDisable(false);
    }

    @Override
    public void addDownstreamWatermarkCallbacks(DownstreamWatermarkCallbacks callbacks) {
      watermarkCallbacks.add(callbacks);
    }
  }

  private final class EncoderEntry extends Entry implements EncoderFilterCallbacks {
    final StreamEncoderFilter filter;

    EncoderEntry(String name, StreamEncoderFilter filter) {
      super(name, 0);
      this.filter = filter;
    }

    @Override
    public void continueEncoding() {
      FilterManager.this.continueEncoding(this);
    }

    @Override
    public HttpResponse responseHeaders() {
      return responseHeaders;
    }

    @Override
    public ByteBuf encodingBuffer() {
      return bufferedResponse;
    }
  }
}
