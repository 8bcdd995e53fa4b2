package dev.mesh.proxy.route;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.List;
import java.util.Map;

/**
 * What routing looks at in a request: authority, path (without query), headers, and the query,
 * decoded only if a route asks for it.
 */
public final class RequestView {
  private final String authority;
  private final String method;
  private final String uri;
  private final String path;
  private final HttpHeaders headers;
  private Map<String, List<String>> query;

  private RequestView(String authority, String method, String uri, HttpHeaders headers) {
    this.authority = authority == null ? "" : authority;
    this.method = method;
    this.uri = uri;
    int q = uri.indexOf('?');
    this.path = q < 0 ? uri : uri.substring(0, q);
    this.headers = headers;
  }

  public static RequestView of(String authority, String method, String uri, HttpHeaders headers) {
    return new RequestView(authority, method, uri, headers);
  }

  /** The request's method, as Envoy's {@code :method} pseudo-header. */
  public String method() {
    return method;
  }

  public String authority() {
    return authority;
  }

  /** The request line's target: path and query. */
  public String uri() {
    return uri;
  }

  public String path() {
    return path;
  }

  public HttpHeaders headers() {
    return headers;
  }

  public Map<String, List<String>> query() {
    if (query == null) {
      query = new QueryStringDecoder(uri).parameters();
    }
    return query;
  }
}
