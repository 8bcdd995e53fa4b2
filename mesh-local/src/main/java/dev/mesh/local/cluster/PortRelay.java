package dev.mesh.local.cluster;

import dev.mesh.local.netns.NetworkNamespace;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * The local cluster's port-forward: a Unix socket of the pod's under the cluster's state directory
 * ({@link #socketOf}, root only) through which a client reaches any port of the pod's network
 * namespace, its localhost included (the proxy's admin on 127.0.0.1:15000), as kubectl port-forward
 * does in a cluster. A client writes the port and a newline, then speaks to it; each connection is
 * carried inside the namespace by a bash with /dev/tcp.
 */
public final class PortRelay implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(PortRelay.class.getName());

  private final ServerSocketChannel server;
  private final Path socket;
  private final NetworkNamespace ns;
  private final ExecutorService threads;

  private PortRelay(Path socket, NetworkNamespace ns, ServerSocketChannel server) {
    this.socket = socket;
    this.ns = ns;
    this.server = server;
    this.threads =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "port-forward-" + ns.name());
              t.setDaemon(true);
              return t;
            });
    threads.execute(this::accept);
  }

  /**
   * The relay socket of the pod whose directory is {@code podDir} (state/pods/NS_POD): under
   * state/relay, named by a hash of the pod's key, because Java binds no Unix socket path over 106
   * bytes and a pod directory's path grows with its names and the state directory's random suffix
   * (a ReplicaSet's pod at 107 bytes never started: its relay could not be served).
   */
  public static Path socketOf(Path podDir) {
    Path state = podDir.getParent().getParent();
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(
                  podDir
                      .getFileName()
                      .toString()
                      .getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return state
          .resolve("relay")
          .resolve(java.util.HexFormat.of().formatHex(digest, 0, 8) + ".sock");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is in every JDK", e);
    }
  }

  /** Serves the relay of a pod's namespace on {@link #socketOf}. */
  static PortRelay serve(Path dir, NetworkNamespace ns) {
    Path socket = socketOf(dir);
    try {
      Files.createDirectories(socket.getParent());
      Files.deleteIfExists(socket);
      ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
      server.bind(UnixDomainSocketAddress.of(socket));
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
      return new PortRelay(socket, ns, server);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot serve " + socket, e);
    }
  }

  private void accept() {
    while (server.isOpen()) {
      try {
        SocketChannel client = server.accept();
        threads.execute(() -> relay(client));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void relay(SocketChannel client) {
    Process p = null;
    try (client) {
      int port = Integer.parseInt(line(client));
      if (port < 1 || port > 65535) {
        return;
      }
      p =
          new ProcessBuilder(
                  ns.wrap(
                      List.of(
                          "bash",
                          "-c",
                          "exec 3<>/dev/tcp/127.0.0.1/"
                              + port
                              + " || exit 1; cat <&3 & cat >&3; wait")))
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      Process proc = p;
      threads.execute(
          () -> {
            try {
              copy(proc.getInputStream(), client);
            } catch (IOException e) {
              // the client went away
            } finally {
              proc.destroy();
              closeQuietly(client);
            }
          });
      copy(client, proc.getOutputStream());
    } catch (IOException | NumberFormatException e) {
      LOG.fine("port-forward in " + ns.name() + ": " + e.getMessage());
    } finally {
      if (p != null) {
        p.destroy();
      }
    }
  }

  private static void closeQuietly(SocketChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      // already closed
    }
  }

  /** The preamble, read a byte at a time so that nothing after it is consumed. */
  private static String line(SocketChannel in) throws IOException {
    StringBuilder b = new StringBuilder();
    ByteBuffer one = ByteBuffer.allocate(1);
    while (in.read(one.clear()) > 0 && one.get(0) != '\n') {
      if (b.length() > 8) {
        throw new IOException("not a port");
      }
      b.append((char) one.get(0));
    }
    return b.toString().strip();
  }

  // Plain channel reads and writes: the JDK's channel streams lock the channel for a blocked read,
  // which would stop the other direction.
  static void copy(SocketChannel from, OutputStream to) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(16384);
    while (from.read(buf.clear()) >= 0) {
      to.write(buf.array(), 0, buf.position());
      to.flush();
    }
  }

  static void copy(InputStream from, SocketChannel to) throws IOException {
    byte[] bytes = new byte[16384];
    for (int n = from.read(bytes); n >= 0; n = from.read(bytes)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes, 0, n);
      while (buf.hasRemaining()) {
        to.write(buf);
      }
    }
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // closing
    }
    threads.shutdownNow();
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      LOG.warning("cannot remove " + socket + ": " + e.getMessage());
    }
  }

  /**
   * The client side, as kubectl port-forward: a TCP listener on 127.0.0.1 (an ephemeral port) whose
   * connections reach {@code port} of the pod through its relay socket.
   */
  public static final class Forward implements AutoCloseable {
    private final ServerSocket listener;
    private final ExecutorService threads =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "port-forward-client");
              t.setDaemon(true);
              return t;
            });

    public Forward(Path relaySocket, int port) throws IOException {
      if (!Files.exists(relaySocket)) {
        throw new IOException(
            "no port-forward socket at " + relaySocket + " (is the pod running?)");
      }
      listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
      threads.execute(
          () -> {
            while (!listener.isClosed()) {
              try {
                Socket s = listener.accept();
                threads.execute(() -> pipe(s, relaySocket, port));
              } catch (IOException e) {
                return;
              }
            }
          });
    }

    public int localPort() {
      return listener.getLocalPort();
    }

    private void pipe(Socket s, Path relaySocket, int port) {
      try (s;
          SocketChannel relay = SocketChannel.open(UnixDomainSocketAddress.of(relaySocket))) {
        relay.write(ByteBuffer.wrap((port + "\n").getBytes(StandardCharsets.US_ASCII)));
        threads.execute(
            () -> {
              try {
                copy(s.getInputStream(), relay);
              } catch (IOException e) {
                // either side closed
              } finally {
                closeQuietly(relay);
              }
            });
        copy(relay, s.getOutputStream());
      } catch (IOException e) {
        // either side closed
      }
    }

    @Override
    public void close() {
      try {
        listener.close();
      } catch (IOException e) {
        // closing
      }
      threads.shutdownNow();
    }
  }
}
