package dev.mesh.proxy.route;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.List;
import java.util.Map;

/** What routing looks at in a request: authority, path (without query), query and headers. */
public record RequestView(
    String authority, String path, Map<String, List<String>> query, HttpHeaders headers) {

  public static RequestView of(String authority, String uri, HttpHeaders headers) {
    QueryStringDecoder q = new QueryStringDecoder(uri);
    return new RequestView(
        authority == null ? "" : authority, q.rawPath(), q.parameters(), headers);
  }
}
