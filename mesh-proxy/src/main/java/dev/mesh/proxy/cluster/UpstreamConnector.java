package dev.mesh.proxy.cluster;

import dev.mesh.proxy.tls.TlsContext;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.net.InetSocketAddress;
import java.util.function.Consumer;
import javax.net.ssl.SSLException;

/**
 * Opens a connection to one of a cluster's hosts the way every upstream needs it: on the caller's
 * event loop, with the cluster's connect timeout, source address (upstream_bind_config) and the
 * host's transport socket, then the caller's handlers. Over TLS the connection is ready only once
 * the handshake is done, so that a peer refused by verification fails the connection (Envoy's UF,
 * with the TLS reason) before any request is written to it.
 */
public final class UpstreamConnector {
  private UpstreamConnector() {}

  /** The prefix of a TLS failure's message: Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON% form. */
  public static final String TLS_ERROR = "TLS_error: ";

  public static ChannelFuture connect(
      EventLoop loop,
      Class<? extends Channel> channelType,
      UpstreamCluster cluster,
      InetSocketAddress address,
      boolean halfClosure,
      Consumer<Channel> handlers) {
    Bootstrap b = new Bootstrap();
    if (cluster.sourceAddress() != null) {
      b.localAddress(cluster.sourceAddress());
    }
    TlsContext tls = cluster.tlsFor(address);
    SslContext context = tls == null ? null : tls.current();
    ChannelFuture connected =
        b.group(loop)
            .channel(channelType)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
            .option(
                ChannelOption.CONNECT_TIMEOUT_MILLIS,
                (int) Math.max(1, cluster.connectTimeout().toMillis()))
            .handler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    if (context != null) {
                      ch.pipeline().addFirst(sslHandler(context, tls.sni(), ch));
                    }
                    handlers.accept(ch);
                  }
                })
            .connect(address);
    if (tls == null) {
      return connected;
    }
    ChannelPromise ready = connected.channel().newPromise();
    connected.addListener(
        f -> {
          if (!f.isSuccess()) {
            ready.setFailure(f.cause());
            return;
          }
          SslHandler ssl = connected.channel().pipeline().get(SslHandler.class);
          if (ssl == null) {
            // Its secrets never came (initial_fetch_timeout passed): no handshake can succeed.
            cluster.stats().sslConnectionError.inc();
            connected.channel().close();
            ready.setFailure(new SSLException(TLS_ERROR + "no TLS certificate or CA in force"));
            return;
          }
          ssl.handshakeFuture()
              .addListener(
                  h -> {
                    if (h.isSuccess()) {
                      cluster.stats().sslHandshake.inc();
                      ready.setSuccess();
                    } else {
                      cluster.stats().sslConnectionError.inc();
                      connected.channel().close();
                      ready.setFailure(new SSLException(TLS_ERROR + reason(h.cause()), h.cause()));
                    }
                  });
        });
    return ready;
  }

  /** A client handler sending {@code sni} (checked sendable when the config was compiled). */
  public static SslHandler sslHandler(SslContext context, String sni, Channel ch) {
    SslHandler handler = context.newHandler(ch.alloc());
    if (!sni.isEmpty()) {
      javax.net.ssl.SSLEngine engine = handler.engine();
      javax.net.ssl.SSLParameters params = engine.getSSLParameters();
      params.setServerNames(java.util.List.of(new javax.net.ssl.SNIHostName(sni)));
      engine.setSSLParameters(params);
    }
    return handler;
  }

  /** The innermost message of a handshake failure: the check that refused the peer. */
  public static String reason(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return String.valueOf(c.getMessage());
  }
}
