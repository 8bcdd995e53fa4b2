package dev.mesh.local.kube;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * Bytes between a listening address and a target address, either being TCP ({@code
 * tcp:10.44.0.1:10250}) or a Unix socket ({@code unix:/path}). Unix sockets are files, seen from
 * every network namespace: that is how the control plane in the hub namespace and the processes on
 * the host (kubectl, the kubelet) reach each other without touching the host's network. The relay
 * carries TLS as opaque bytes; each end checks the other's certificate.
 *
 * <p>As a program ({@code SocketRelay <listen> <target> [<listen> <target> ...]}) it runs inside a
 * namespace until killed.
 */
public final class SocketRelay implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(SocketRelay.class.getName());

  private final ServerSocketChannel server;
  private final String listen;
  private final String target;

  private SocketRelay(ServerSocketChannel server, String listen, String target) {
    this.server = server;
    this.listen = listen;
    this.target = target;
    Thread t = new Thread(this::accept, "relay " + listen);
    t.setDaemon(true);
    t.start();
  }

  /** Starts relaying connections made to {@code listen} to {@code target}. */
  public static SocketRelay start(String listen, String target) {
    SocketAddress at = address(listen);
    address(target); // refused early when malformed
    try {
      ServerSocketChannel server;
      if (at instanceof UnixDomainSocketAddress unix) {
        Files.deleteIfExists(unix.getPath());
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(unix);
        // Root only: whoever reaches these sockets speaks to the API server or kubelet port.
        Files.setPosixFilePermissions(unix.getPath(), PosixFilePermissions.fromString("rw-------"));
      } else {
        server = ServerSocketChannel.open();
        server.bind(at);
      }
      return new SocketRelay(server, listen, target);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + listen, e);
    }
  }

  /** The TCP port this relay listens on (for {@code tcp:127.0.0.1:0}). */
  public int port() {
    try {
      return ((InetSocketAddress) server.getLocalAddress()).getPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static SocketAddress address(String spec) {
    if (spec.startsWith("unix:")) {
      return UnixDomainSocketAddress.of(Path.of(spec.substring("unix:".length())));
    }
    if (spec.startsWith("tcp:")) {
      String hostPort = spec.substring("tcp:".length());
      int colon = hostPort.lastIndexOf(':');
      if (colon > 0) {
        try {
          return new InetSocketAddress(
              hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
        } catch (NumberFormatException e) {
          // fall through to the message below
        }
      }
    }
    throw new IllegalArgumentException(
        "a relay address is tcp:<host>:<port> or unix:<path>, got '" + spec + "'");
  }

  private void accept() {
    while (server.isOpen()) {
      SocketChannel client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      Thread t = new Thread(() -> relay(client), "relay " + listen + " conn");
      t.setDaemon(true);
      t.start();
    }
  }

  private void relay(SocketChannel client) {
    SocketAddress to = address(target);
    try (client;
        SocketChannel upstream =
            SocketChannel.open(
                to instanceof UnixDomainSocketAddress
                    ? StandardProtocolFamily.UNIX
                    : StandardProtocolFamily.INET)) {
      upstream.connect(to);
      CountDownLatch oneWayDone = new CountDownLatch(1);
      Thread back =
          new Thread(
              () -> {
                copy(upstream, client);
                oneWayDone.countDown();
              },
              "relay " + target + " back");
      back.setDaemon(true);
      back.start();
      copy(client, upstream);
      oneWayDone.await();
    } catch (IOException e) {
      LOG.fine("relay " + listen + " -> " + target + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Copies until end of stream, then half-closes the other side so it sees the end too. */
  private static void copy(SocketChannel from, SocketChannel to) {
    ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    try {
      while (from.read(buf) >= 0) {
        buf.flip();
        while (buf.hasRemaining()) {
          to.write(buf);
        }
        buf.clear();
      }
      to.shutdownOutput();
    } catch (IOException e) {
      // the other direction sees it too; closing both ends follows
      try {
        to.close();
        from.close();
      } catch (IOException ignored) {
        // already closing
      }
    }
  }

  @Override
  public void close() {
    try {
      server.close();
      if (address(listen) instanceof UnixDomainSocketAddress unix) {
        Files.deleteIfExists(unix.getPath());
      }
    } catch (IOException e) {
      // closing: nothing left to do
    }
  }

  public static void main(String[] args) throws InterruptedException {
    if (args.length == 0 || args.length % 2 != 0) {
      System.err.println("usage: SocketRelay <listen> <target> [<listen> <target> ...]");
      System.exit(2);
    }
    List<SocketRelay> relays = new ArrayList<>();
    for (int i = 0; i < args.length; i += 2) {
      relays.add(start(args[i], args[i + 1]));
      System.out.println("relaying " + args[i] + " to " + args[i + 1]);
    }
    new CountDownLatch(1).await(); // until killed
  }
}
