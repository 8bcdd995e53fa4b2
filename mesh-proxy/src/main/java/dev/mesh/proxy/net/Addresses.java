package dev.mesh.proxy.net;

import dev.mesh.proxy.config.ConfigRejectedException;
import io.envoyproxy.envoy.config.core.v3.Address;
import java.net.InetSocketAddress;
import java.util.regex.Pattern;

/** Envoy addresses as Java socket addresses. */
public final class Addresses {
  private Addresses() {}

  private static final Pattern IPV4 =
      Pattern.compile(
          "((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

  public static boolean isIpLiteral(String s) {
    return IPV4.matcher(s).matches() || s.indexOf(':') >= 0;
  }

  /** A listener's or admin's socket address; IP literals only, as Envoy requires. */
  public static InetSocketAddress bindAddress(Address address, String what) {
    if (!address.hasSocketAddress()) {
      throw new ConfigRejectedException(what + ": only socket_address is supported here");
    }
    var sa = address.getSocketAddress();
    if (!isIpLiteral(sa.getAddress())) {
      throw new ConfigRejectedException(
          what + ": address must be an IP address, got '" + sa.getAddress() + "'");
    }
    return new InetSocketAddress(sa.getAddress(), sa.getPortValue());
  }

  /** Envoy's name for an address in stats and dumps: {@code 0.0.0.0_10000}. */
  public static String statName(InetSocketAddress a) {
    return a.getHostString() + "_" + a.getPort();
  }
}
