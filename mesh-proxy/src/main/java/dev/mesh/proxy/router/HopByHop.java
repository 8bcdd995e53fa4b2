package dev.mesh.proxy.router;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;

/**
 * The hop-by-hop headers a proxy does not pass on: the standard ones and those Connection names.
 */
final class HopByHop {
  private HopByHop() {}

  private static final List<String> NAMES =
      List.of("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te");

  /** Removes them; one pass finds them, and most messages have none or only Connection. */
  static void remove(HttpHeaders h) {
    List<String> found = null;
    for (var it = h.iteratorCharSequence(); it.hasNext(); ) {
      var e = it.next();
      CharSequence name = e.getKey();
      boolean hop = false;
      for (String n : NAMES) {
        if (AsciiString.contentEqualsIgnoreCase(name, n)) {
          hop = !(n.equals("te") && "trailers".contentEquals(e.getValue()));
          break;
        }
      }
      if (hop) {
        if (found == null) {
          found = new ArrayList<>(4);
        }
        found.add(name.toString());
        if (AsciiString.contentEqualsIgnoreCase(name, "connection")) {
          for (String token : e.getValue().toString().split(",")) {
            found.add(token.trim());
          }
        }
      }
    }
    if (found != null) {
      for (String n : found) {
        h.remove(n);
      }
    }
  }
}
