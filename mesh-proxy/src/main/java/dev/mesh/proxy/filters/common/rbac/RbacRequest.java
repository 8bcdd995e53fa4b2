package dev.mesh.proxy.filters.common.rbac;

import com.google.protobuf.Struct;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.stream.StreamInfo;
import io.netty.handler.codec.http.EmptyHttpHeaders;

/**
 * What the RBAC matchers look at: the downstream connection (addresses, SNI, peer certificate), and
 * for the HTTP filter the request and the stream's dynamic metadata. The network filter has no
 * request: header matchers see no headers, url_path matches nothing, as in Envoy.
 */
public final class RbacRequest {
  private static final RequestView NO_REQUEST =
      RequestView.of("", "", "", EmptyHttpHeaders.INSTANCE);

  private final ConnectionInfo connection;
  private final RequestView request;
  private final StreamInfo stream;

  private RbacRequest(ConnectionInfo connection, RequestView request, StreamInfo stream) {
    this.connection = connection;
    this.request = request;
    this.stream = stream;
  }

  /** A request on an HTTP stream. */
  public static RbacRequest http(ConnectionInfo connection, RequestView request, StreamInfo s) {
    return new RbacRequest(connection, request, s);
  }

  /** A connection, as the network filter checks it. */
  public static RbacRequest connection(ConnectionInfo connection) {
    return new RbacRequest(connection, null, null);
  }

  ConnectionInfo connection() {
    return connection;
  }

  /** The request, or null for a connection. */
  RequestView request() {
    return request;
  }

  RequestView headers() {
    return request == null ? NO_REQUEST : request;
  }

  /** The stream's dynamic metadata under a filter's namespace, or null. */
  Struct dynamicMetadata(String namespace) {
    return stream == null ? null : stream.dynamicMetadata(namespace);
  }

  /** Sets dynamic metadata on the stream (the network filter has no stream to keep it on). */
  void setDynamicMetadata(String namespace, Struct value) {
    if (stream != null) {
      stream.setDynamicMetadata(namespace, value);
    }
  }
}
