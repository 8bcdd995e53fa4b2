package dev.mesh.api;

import java.net.InetAddress;
import java.net.UnknownHostException;

public final class IpAddresses {
  private IpAddresses() {}

  /** True for a dotted-quad IPv4 or an IPv6 literal; never resolves a name. */
  public static boolean isLiteral(String text) {
    if (text == null || text.isEmpty()) {
      return false;
    }
    if (text.indexOf(':') >= 0) {
      // A text with a colon is only ever parsed as an IPv6 literal, never looked up.
      try {
        return InetAddress.getByName(text) != null;
      } catch (UnknownHostException e) {
        return false;
      }
    }
    String[] octets = text.split("\\.", -1);
    if (octets.length != 4) {
      return false;
    }
    for (String octet : octets) {
      if (octet.isEmpty() || octet.length() > 3 || !octet.chars().allMatch(Character::isDigit)) {
        return false;
      }
      if (Integer.parseInt(octet) > 255) {
        return false;
      }
    }
    return true;
  }
}
