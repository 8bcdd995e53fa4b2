package dev.mesh.proxy.route;

/** The host part of an HTTP authority ({@code host}, {@code host:port}, {@code [v6]:port}). */
public final class Authority {
  private Authority() {}

  public static String withoutPort(String authority) {
    if (authority.startsWith("[")) {
      int end = authority.indexOf(']');
      return end < 0 ? authority : authority.substring(0, end + 1);
    }
    int colon = authority.lastIndexOf(':');
    return colon < 0 ? authority : authority.substring(0, colon);
  }
}
