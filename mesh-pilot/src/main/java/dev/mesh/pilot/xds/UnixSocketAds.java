package dev.mesh.pilot.xds;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * ADS on a Unix socket as well as on 15010: how pods of the local mesh, each in its own network
 * namespace, reach pilot (the socket is in the filesystem, which they share).
 */
public final class UnixSocketAds implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(UnixSocketAds.class.getName());
  private final Server server;
  private final MultiThreadIoEventLoopGroup group;
  private final Path path;

  /** Serves ADS on the socket at {@code path}; with a null path, does nothing. */
  public UnixSocketAds(Path path, XdsServer xds) throws IOException {
    this.path = path;
    if (path == null) {
      server = null;
      group = null;
      return;
    }
    Files.deleteIfExists(path); // a socket left by a pilot that died
    group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    server =
        NettyServerBuilder.forAddress(new DomainSocketAddress(path.toString()))
            .channelType(EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(group)
            .workerEventLoopGroup(group)
            .addService(xds.ads())
            .build()
            .start();
    // Proxies run as uid 1337 and connecting to a socket takes write permission on it.
    Files.setPosixFilePermissions(
        path, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
    LOG.info("ADS on unix://" + path);
  }

  @Override
  public void close() {
    if (server == null) {
      return;
    }
    server.shutdownNow();
    try {
      // The streams end on the event loop: it must outlive them, or their last tasks are refused.
      server.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully();
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      LOG.warning("cannot remove " + path + ": " + e.getMessage());
    }
  }
}
