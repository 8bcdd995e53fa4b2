package dev.mesh.proxy.stream;

import com.google.protobuf.Struct;
import dev.mesh.proxy.istio.Workload;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import java.util.HashMap;
import java.util.Map;

/**
 * What one HTTP stream did, as Envoy's StreamInfo: timings, response code and flags, bytes, the
 * route and upstream chosen, the peer, and dynamic metadata filters leave for others. Filters write
 * it as the stream goes; stats, Istio's metrics and access logs are computed from it when the
 * stream ends. Confined to the stream's event loop.
 */
public final class StreamInfo {
  private final ConnectionInfo connection;
  private final long startMillis = System.currentTimeMillis();
  private final long startNanos = System.nanoTime();
  private long requestCompleteNanos;
  private long firstUpstreamTxNanos;
  private long firstUpstreamRxNanos;
  private long endNanos;
  private String protocol;
  private int responseFlags;
  private int responseCode;
  private String responseCodeDetails;
  private long bytesReceived;
  private long bytesSent;
  private String upstreamCluster;
  private String upstreamHost;
  private String upstreamTransportFailureReason;
  private String upstreamLocalAddress;
  private String routeName;
  private HttpRequest requestHeaders;
  private HttpResponse responseHeaders;
  private HttpHeaders responseTrailers;
  private String originalPath;
  private String originalAuthority;
  private String method;
  private Workload peer = Workload.UNKNOWN_PEER;
  private Map<String, Struct> dynamicMetadata;

  public StreamInfo(ConnectionInfo connection, String protocol) {
    this.connection = connection;
    this.protocol = protocol;
  }

  public ConnectionInfo connection() {
    return connection;
  }

  public long startMillis() {
    return startMillis;
  }

  public long startNanos() {
    return startNanos;
  }

  /** "HTTP/1.1", "HTTP/1.0" or "HTTP/2", as %PROTOCOL% prints it. */
  public String protocol() {
    return protocol;
  }

  public void setProtocol(String protocol) {
    this.protocol = protocol;
  }

  public void addResponseFlag(ResponseFlag f) {
    responseFlags |= 1 << f.ordinal();
  }

  public boolean hasResponseFlag(ResponseFlag f) {
    return (responseFlags & (1 << f.ordinal())) != 0;
  }

  public boolean hasAnyResponseFlag() {
    return responseFlags != 0;
  }

  /** The flags as Envoy prints them, e.g. "UF,URX"; "" when none. */
  public String responseFlags() {
    return ResponseFlag.toShortString(responseFlags);
  }

  /** The status sent downstream; 0 when none was (a reset before the response). */
  public int responseCode() {
    return responseCode;
  }

  public void setResponseCode(int code) {
    this.responseCode = code;
  }

  /** Envoy's %RESPONSE_CODE_DETAILS%: "via_upstream", "route_not_found", ... */
  public String responseCodeDetails() {
    return responseCodeDetails;
  }

  public void setResponseCodeDetails(String details) {
    this.responseCodeDetails = details;
  }

  public long bytesReceived() {
    return bytesReceived;
  }

  public void addBytesReceived(long n) {
    bytesReceived += n;
  }

  public long bytesSent() {
    return bytesSent;
  }

  public void addBytesSent(long n) {
    bytesSent += n;
  }

  public String upstreamCluster() {
    return upstreamCluster;
  }

  public void setUpstreamCluster(String cluster) {
    this.upstreamCluster = cluster;
  }

  /** {@code ip:port} of the upstream host that answered (or was last tried). */
  /** Why the upstream connection's TLS failed (%UPSTREAM_TRANSPORT_FAILURE_REASON%), or null. */
  public String upstreamTransportFailureReason() {
    return upstreamTransportFailureReason;
  }

  public void setUpstreamTransportFailureReason(String reason) {
    this.upstreamTransportFailureReason = reason;
  }

  public String upstreamHost() {
    return upstreamHost;
  }

  public void setUpstreamHost(String host) {
    this.upstreamHost = host;
  }

  public String upstreamLocalAddress() {
    return upstreamLocalAddress;
  }

  public void setUpstreamLocalAddress(String address) {
    this.upstreamLocalAddress = address;
  }

  public String routeName() {
    return routeName;
  }

  public void setRouteName(String name) {
    this.routeName = name;
  }

  /** The request's headers as they are now (filters and the router change them in place). */
  public HttpRequest requestHeaders() {
    return requestHeaders;
  }

  /**
   * The request as it arrived: its method, path and authority are kept apart from later changes.
   */
  public void setRequestHeaders(HttpRequest request, String authority) {
    this.requestHeaders = request;
    this.method = request.method().name();
    this.originalPath = request.uri();
    this.originalAuthority = authority;
  }

  public String method() {
    return method;
  }

  /** The path (with query) the client sent, before any rewrite. */
  public String originalPath() {
    return originalPath;
  }

  /** The authority (Host, or :authority) the client sent; "" when none. */
  public String originalAuthority() {
    return originalAuthority;
  }

  public HttpResponse responseHeaders() {
    return responseHeaders;
  }

  public void setResponseHeaders(HttpResponse response) {
    this.responseHeaders = response;
  }

  public HttpHeaders responseTrailers() {
    return responseTrailers;
  }

  public void setResponseTrailers(HttpHeaders trailers) {
    this.responseTrailers = trailers;
  }

  /** The workload at the other end, as Istio's metadata exchange learned it. */
  public Workload peer() {
    return peer;
  }

  public void setPeer(Workload peer) {
    this.peer = peer;
  }

  /** Dynamic metadata under a filter's namespace, or null. */
  public Struct dynamicMetadata(String namespace) {
    return dynamicMetadata == null ? null : dynamicMetadata.get(namespace);
  }

  public void setDynamicMetadata(String namespace, Struct value) {
    if (dynamicMetadata == null) {
      dynamicMetadata = new HashMap<>(4);
    }
    dynamicMetadata.put(namespace, value);
  }

  public void onRequestComplete() {
    if (requestCompleteNanos == 0) {
      requestCompleteNanos = System.nanoTime();
    }
  }

  public void onFirstUpstreamTxByteSent() {
    if (firstUpstreamTxNanos == 0) {
      firstUpstreamTxNanos = System.nanoTime();
    }
  }

  public void onFirstUpstreamRxByteReceived() {
    if (firstUpstreamRxNanos == 0) {
      firstUpstreamRxNanos = System.nanoTime();
    }
  }

  public void onStreamEnd() {
    if (endNanos == 0) {
      endNanos = System.nanoTime();
    }
  }

  /** From the first byte received to the stream's end (or to now, before it). */
  public long durationNanos() {
    return (endNanos == 0 ? System.nanoTime() : endNanos) - startNanos;
  }

  /** From the first byte sent upstream to the first byte back; -1 if either is missing. */
  public long upstreamServiceNanos() {
    return firstUpstreamTxNanos == 0 || firstUpstreamRxNanos == 0
        ? -1
        : firstUpstreamRxNanos - firstUpstreamTxNanos;
  }
}
