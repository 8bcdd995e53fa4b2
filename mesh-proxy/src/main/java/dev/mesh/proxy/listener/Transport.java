package dev.mesh.proxy.listener;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/** epoll where Linux offers it (for SO_ORIGINAL_DST and TPROXY), NIO elsewhere. */
public record Transport(
    EventLoopGroup workers,
    Class<? extends ServerChannel> serverChannel,
    Class<? extends Channel> channel) {

  public static Transport create(int threads) {
    if (Epoll.isAvailable()) {
      return new Transport(
          new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory()),
          EpollServerSocketChannel.class,
          EpollSocketChannel.class);
    }
    return new Transport(
        new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory()),
        NioServerSocketChannel.class,
        NioSocketChannel.class);
  }
}
