package dev.mesh.local.netns;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A pod's proxy seen through its admin endpoint (127.0.0.1:15000 inside the pod). */
public final class SidecarStats {
  private SidecarStats() {}

  /** Connections a listener took (its downstream_cx_total), by port; 0 before it took any. */
  public static long accepted(NetworkNamespace pod, int port) {
    String stats = NamespaceHttp.request(pod, 0, "127.0.0.1", 15000, "GET /stats").stdout();
    Matcher m =
        Pattern.compile("listener\\.[^\\s:]*_" + port + "\\.downstream_cx_total: (\\d+)")
            .matcher(stats);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }
}
