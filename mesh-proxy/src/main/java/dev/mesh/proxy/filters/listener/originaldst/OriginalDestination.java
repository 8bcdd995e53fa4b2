package dev.mesh.proxy.filters.listener.originaldst;

import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.RawUnixChannelOption;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;

/**
 * Where a captured connection was going. Under iptables REDIRECT the kernel keeps it in the
 * connection's NAT entry (getsockopt SO_ORIGINAL_DST); under TPROXY, or with no capture at all, it
 * is the accepted socket's own local address.
 */
final class OriginalDestination {
  private OriginalDestination() {}

  // SOL_IP (0), SO_ORIGINAL_DST (80) from linux/netfilter_ipv4.h; the answer is a sockaddr_in.
  private static final RawUnixChannelOption SO_ORIGINAL_DST =
      new RawUnixChannelOption("SO_ORIGINAL_DST", 0, 80, 16);

  static InetSocketAddress of(Channel ch) {
    InetSocketAddress local = (InetSocketAddress) ch.localAddress();
    if (!(ch instanceof EpollSocketChannel)) {
      return local;
    }
    try {
      ByteBuffer sa = ch.config().getOption(SO_ORIGINAL_DST);
      if (sa == null || sa.remaining() < 8) {
        return local;
      }
      int port = ((sa.get(2) & 0xFF) << 8) | (sa.get(3) & 0xFF);
      byte[] addr = {sa.get(4), sa.get(5), sa.get(6), sa.get(7)};
      return new InetSocketAddress(InetAddress.getByAddress(addr), port);
    } catch (RuntimeException | UnknownHostException e) {
      // No NAT entry (ENOENT): not redirected, so the local address is the destination.
      return local;
    }
  }
}
