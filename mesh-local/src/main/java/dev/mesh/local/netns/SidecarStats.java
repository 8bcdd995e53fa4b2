package dev.mesh.local.netns;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A pod's proxy seen through its admin endpoint (127.0.0.1:15000 inside the pod). */
public final class SidecarStats {
  private SidecarStats() {}

  /** Connections a listener took (its downstream_cx_total), by port; 0 before it took any. */
  public static long accepted(NetworkNamespace pod, int port) {
    return accepted(NamespaceHttp.request(pod, 0, "127.0.0.1", 15000, "GET /stats").stdout(), port);
  }

  /** The same read from the text of the admin's /stats, however it was fetched. */
  public static long accepted(String stats, int port) {
    Matcher m =
        Pattern.compile("listener\\.[^\\s:]*_" + port + "\\.downstream_cx_total: (\\d+)")
            .matcher(stats);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }
}
