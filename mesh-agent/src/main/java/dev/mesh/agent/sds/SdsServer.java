package dev.mesh.agent.sds;

import dev.mesh.agent.identity.WorkloadIdentity;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The agent's SDS server on a Unix socket, where Istio's agent serves it
 * (/var/run/secrets/workload-spiffe-uds/socket, Istio's path from the container's root): what the
 * proxy's {@code sds-grpc} cluster reaches for the secrets {@code default} and {@code ROOTCA}.
 */
public final class SdsServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(SdsServer.class.getName());

  private final Path socket;
  private final SecretDiscovery service;
  private MultiThreadIoEventLoopGroup group;
  private Server server;

  public SdsServer(Path socket, WorkloadIdentity identity) {
    this.socket = socket;
    this.service = new SecretDiscovery(identity);
  }

  /** Binds the socket (replacing one a previous agent left) and serves. */
  public void start() {
    try {
      Path parent = socket.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.deleteIfExists(socket);
      group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
      server =
          NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
              .channelType(EpollServerDomainSocketChannel.class)
              .bossEventLoopGroup(group)
              .workerEventLoopGroup(group)
              .addService(service)
              .build()
              .start();
    } catch (IOException e) {
      if (group != null) {
        group.shutdownGracefully();
      }
      throw new UncheckedIOException("cannot serve SDS on " + socket + ": " + e.getMessage(), e);
    }
    LOG.info("SDS on unix://" + socket + ": secrets default and ROOTCA");
  }

  public Path socket() {
    return socket;
  }

  @Override
  public void close() {
    if (server == null) {
      return;
    }
    server.shutdownNow();
    try {
      // The streams end on the event loop: it must outlive them.
      server.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully();
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      LOG.warning("cannot remove " + socket + ": " + e.getMessage());
    }
  }
}
