package dev.mesh.proxy.http.filter;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import java.util.function.Consumer;

/** What a decoder filter can do with its stream. */
public interface DecoderFilterCallbacks extends StreamFilterCallbacks {
  /** Resumes the chain after this filter stopped it: headers, buffered body, trailers, in order. */
  void continueDecoding();

  /**
   * Answers the request from the proxy: the reply passes through every encoder filter and gets the
   * route's response header changes, as Envoy's sendLocalReply; a gRPC request gets a trailers-only
   * gRPC error instead. Once the response has begun, it resets the stream.
   *
   * @param modifyHeaders changes to the reply's headers, or null
   * @param grpcStatus the grpc-status for a gRPC request, or null to derive it from the status
   * @param details Envoy's response code details, e.g. "fault_filter_abort"
   */
  void sendLocalReply(
      int status,
      String body,
      Consumer<HttpHeaders> modifyHeaders,
      Integer grpcStatus,
      String details);

  /** The request's headers (changes to them are seen by later filters and the upstream). */
  HttpRequest requestHeaders();

  /** What the chain has buffered of the request body at this filter, or null. */
  ByteBuf decodingBuffer();

  /** A response from the terminal filter, into the encoder filters. */
  void encodeHeaders(HttpResponse headers, boolean endStream);

  void encodeData(ByteBuf data, boolean endStream);

  void encodeTrailers(HttpHeaders trailers);

  /** The terminal filter's upstream cannot take more: stop reading the downstream. */
  void onDecoderFilterAboveWriteBufferHighWatermark();

  /** It can again. */
  void onDecoderFilterBelowWriteBufferLowWatermark();

  /** Registers to hear when the downstream cannot take more response data. */
  void addDownstreamWatermarkCallbacks(DownstreamWatermarkCallbacks callbacks);
}
