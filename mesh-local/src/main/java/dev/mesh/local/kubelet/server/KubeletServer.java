package dev.mesh.local.kubelet.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import javax.net.ssl.SSLException;

/**
 * The kubelet's HTTPS API as the API server calls it for {@code kubectl logs}, {@code port-forward}
 * and {@code exec}: {@code /healthz}, {@code /containerLogs}, {@code /portForward} and {@code
 * /exec}, the last two over SPDY/3.1 (what the API server speaks to a kubelet that declares no
 * WebSocket support, translating kubectl's WebSockets) and over WebSocket (what clients such as
 * fabric8's ask for, passed through unchanged).
 *
 * <p>It listens on a TCP address or a Unix socket (the control plane relays the node's port 10250
 * to one), serves TLS with the kubelet's serving certificate and accepts only clients whose
 * certificate the given CA signed: the API server's kubelet-client certificate comes from a CA of
 * its own, so no other user of the cluster reaches a pod's processes this way.
 */
public final class KubeletServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(KubeletServer.class.getName());

  private final EventLoopGroup loops;
  private final ExecutorService blocking;
  private final Channel server;
  private final SocketAddress address;

  /** The server's certificate and key, and the CA its clients' certificates must come from. */
  public static final class Tls {
    private final SslContextBuilder builder;

    private Tls(SslContextBuilder builder) {
      this.builder = builder;
    }

    /** PEM files: the certificate (chain), its PKCS#8 key, the clients' CA. */
    public static Tls files(Path certificate, Path key, Path clientCa) {
      return new Tls(
          SslContextBuilder.forServer(certificate.toFile(), key.toFile())
              .trustManager(clientCa.toFile()));
    }

    public static Tls of(X509Certificate certificate, PrivateKey key, X509Certificate clientCa) {
      return new Tls(SslContextBuilder.forServer(key, certificate).trustManager(clientCa));
    }

    SslContext context() {
      try {
        // The JDK's provider: no native TLS library is shipped with this module.
        return builder.sslProvider(SslProvider.JDK).clientAuth(ClientAuth.REQUIRE).build();
      } catch (SSLException e) {
        throw new IllegalArgumentException("the kubelet's TLS material: " + e.getMessage(), e);
      }
    }
  }

  private KubeletServer(
      EventLoopGroup loops, ExecutorService blocking, Channel server, SocketAddress address) {
    this.loops = loops;
    this.blocking = blocking;
    this.server = server;
    this.address = address;
  }

  /**
   * Serves on {@code bind}: an {@link InetSocketAddress} (port 0 picks one, see {@link #port()}) or
   * a {@link UnixDomainSocketAddress} (a stale socket file there is replaced).
   */
  public static KubeletServer start(SocketAddress bind, Tls tls, KubeletPods pods) {
    SslContext ssl = tls.context();
    // Daemon threads: a cluster whose start failed half way must not keep its JVM (the demo) alive.
    EventLoopGroup loops =
        new MultiThreadIoEventLoopGroup(
            2,
            new io.netty.util.concurrent.DefaultThreadFactory("kubelet-server", true),
            NioIoHandler.newFactory());
    // Process pipes, connects and file reads block; they never run on an event loop.
    ExecutorService blocking =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "kubelet-api-io");
              t.setDaemon(true);
              return t;
            });
    boolean unix = bind instanceof UnixDomainSocketAddress;
    try {
      if (unix) {
        Files.deleteIfExists(((UnixDomainSocketAddress) bind).getPath());
      }
      Channel server =
          new ServerBootstrap()
              .group(loops)
              .channel(unix ? NioServerDomainSocketChannel.class : NioServerSocketChannel.class)
              .childHandler(
                  new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      ch.pipeline()
                          .addLast("tls", ssl.newHandler(ch.alloc()))
                          .addLast(new HandshakeLog())
                          .addLast(KubeletHttpHandler.CODEC, new HttpServerCodec())
                          .addLast(KubeletHttpHandler.AGGREGATOR, new HttpObjectAggregator(65536))
                          .addLast(KubeletHttpHandler.NAME, new KubeletHttpHandler(pods, blocking));
                    }
                  })
              .bind(bind)
              .syncUninterruptibly()
              .channel();
      SocketAddress bound = server.localAddress();
      LOG.info("kubelet API serving on " + describe(bound));
      return new KubeletServer(loops, blocking, server, bound);
    } catch (IOException e) {
      shutdown(loops, blocking);
      throw new UncheckedIOException("cannot bind the kubelet API to " + describe(bind), e);
    } catch (RuntimeException e) {
      shutdown(loops, blocking);
      throw new IllegalStateException(
          "cannot bind the kubelet API to " + describe(bind) + ": " + e.getMessage(), e);
    }
  }

  /** Where it listens: the TCP address with its port, or the Unix socket. */
  public SocketAddress address() {
    return address;
  }

  /** The TCP port it listens on. */
  public int port() {
    if (!(address instanceof InetSocketAddress a)) {
      throw new IllegalStateException("the kubelet API listens on a Unix socket: " + address);
    }
    return a.getPort();
  }

  @Override
  public void close() {
    server.close().syncUninterruptibly();
    shutdown(loops, blocking);
    if (address instanceof UnixDomainSocketAddress u) {
      try {
        Files.deleteIfExists(u.getPath());
      } catch (IOException e) {
        LOG.warning("cannot remove the kubelet API's socket " + u.getPath() + ": " + e);
      }
    }
    LOG.info("kubelet API on " + describe(address) + " closed");
  }

  private static void shutdown(EventLoopGroup loops, ExecutorService blocking) {
    loops.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    blocking.shutdownNow();
  }

  static String describe(SocketAddress a) {
    return a instanceof UnixDomainSocketAddress u ? "unix:" + u.getPath() : String.valueOf(a);
  }

  /** One line for a refused client (no certificate, or one the client CA did not sign). */
  private static final class HandshakeLog extends io.netty.channel.ChannelInboundHandlerAdapter {
    @Override
    public void userEventTriggered(io.netty.channel.ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof SslHandshakeCompletionEvent e) {
        if (e.isSuccess()) {
          ctx.pipeline().remove(this);
        } else {
          LOG.warning(
              "kubelet API: TLS handshake with "
                  + describe(ctx.channel().remoteAddress())
                  + " refused: "
                  + e.cause().getMessage());
          ctx.close();
        }
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
      // The handshake's failure is logged above; the exception that comes with it adds nothing.
      ctx.close();
    }
  }
}
