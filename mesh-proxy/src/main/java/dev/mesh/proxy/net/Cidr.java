package dev.mesh.proxy.net;

import dev.mesh.proxy.config.ConfigRejectedException;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * Envoy's CidrRange compiled once: the network's bytes and the prefix length. Used by RBAC's IP
 * matchers and by filter chain selection's prefix_ranges.
 */
public record Cidr(byte[] network, int bits) {
  /** The range, or a ConfigRejectedException naming {@code at} when it is not an IP range. */
  public static Cidr of(CidrRange range, String at) {
    String prefix = range.getAddressPrefix();
    // Only literals: InetAddress would otherwise resolve a name through DNS.
    if (prefix.isEmpty() || !prefix.matches("[0-9A-Fa-f:.]+")) {
      throw new ConfigRejectedException(
          at + ".address_prefix: '" + prefix + "' is not an IP address");
    }
    byte[] net;
    try {
      net = InetAddress.getByName(prefix).getAddress();
    } catch (UnknownHostException e) {
      throw new ConfigRejectedException(
          at + ".address_prefix: '" + prefix + "' is not an IP address", e);
    }
    int total = net.length * 8;
    int bits = range.hasPrefixLen() ? range.getPrefixLen().getValue() : total;
    if (bits > total) {
      throw new ConfigRejectedException(
          at + ".prefix_len: " + bits + " is longer than the address (" + total + " bits)");
    }
    return new Cidr(net, bits);
  }

  public boolean contains(InetSocketAddress address) {
    return address != null && contains(address.getAddress());
  }

  public boolean contains(InetAddress address) {
    if (address == null) {
      return false;
    }
    byte[] a = address.getAddress();
    if (a.length != network.length) {
      return false;
    }
    int full = bits / 8;
    for (int i = 0; i < full; i++) {
      if (a[i] != network[i]) {
        return false;
      }
    }
    int rest = bits % 8;
    if (rest == 0) {
      return true;
    }
    int mask = 0xff << (8 - rest);
    return (a[full] & mask) == (network[full] & mask);
  }
}
