package dev.mesh.proxy.stream;

import dev.mesh.proxy.tls.PeerCertificate;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * What is known of one downstream connection, as Envoy's connection-level stream info: its
 * addresses (the local one being the original destination of a captured connection), what the
 * listener filters found in its first bytes, the filter chain chosen, and, for a TCP chain, the
 * upstream it was relayed to and the bytes each way. Confined to the connection's event loop.
 */
public final class ConnectionInfo {
  private static final AttributeKey<ConnectionInfo> KEY = AttributeKey.valueOf("mesh.connection");
  private static final AttributeKey<String> LOCAL_ADDRESS =
      AttributeKey.valueOf("mesh.localAddress");

  private final Channel channel;
  private final long startMillis = System.currentTimeMillis();
  private InetSocketAddress localAddress;
  private final InetSocketAddress remoteAddress;
  private String transportProtocol = "raw_buffer";
  private String requestedServerName = "";
  private List<String> applicationProtocols = List.of();
  private String listenerName = "";
  private String filterChainName = "";
  private String upstreamCluster;
  private String upstreamHost;
  private long bytesReceived;
  private long bytesSent;
  private int responseFlags;
  private List<Runnable> onUpstreamConnected;
  private PeerCertificate peerCertificate;
  private PeerCertificate localCertificate;

  private ConnectionInfo(Channel channel, InetSocketAddress local, InetSocketAddress remote) {
    this.channel = channel;
    this.localAddress = local;
    this.remoteAddress = remote;
  }

  /** The info of an accepted connection, made on first use. */
  public static ConnectionInfo of(Channel ch) {
    ConnectionInfo info = ch.attr(KEY).get();
    if (info == null) {
      info =
          new ConnectionInfo(
              ch,
              ch.localAddress() instanceof InetSocketAddress l ? l : null,
              ch.remoteAddress() instanceof InetSocketAddress r ? r : null);
      ch.attr(KEY).set(info);
    }
    return info;
  }

  public Channel channel() {
    return channel;
  }

  public long startMillis() {
    return startMillis;
  }

  /**
   * The destination the client meant: the original destination under capture, else the socket's.
   */
  public InetSocketAddress localAddress() {
    return localAddress;
  }

  /** Set by the original_dst listener filter. */
  public void restoreLocalAddress(InetSocketAddress original) {
    this.localAddress = original;
  }

  public InetSocketAddress remoteAddress() {
    return remoteAddress;
  }

  /** {@code tls} or {@code raw_buffer}, as tls_inspector finds it. */
  public String transportProtocol() {
    return transportProtocol;
  }

  public void setTransportProtocol(String p) {
    this.transportProtocol = p;
  }

  /** The SNI of a TLS connection, or "". */
  public String requestedServerName() {
    return requestedServerName;
  }

  public void setRequestedServerName(String sni) {
    this.requestedServerName = sni == null ? "" : sni;
  }

  /** ALPN offered by a TLS client, or the protocol http_inspector sniffed ("http/1.1", "h2c"). */
  public List<String> applicationProtocols() {
    return applicationProtocols;
  }

  public void setApplicationProtocols(List<String> protocols) {
    this.applicationProtocols = List.copyOf(protocols);
  }

  public String listenerName() {
    return listenerName;
  }

  public void setListenerName(String name) {
    this.listenerName = name;
  }

  public String filterChainName() {
    return filterChainName;
  }

  public void setFilterChainName(String name) {
    this.filterChainName = name;
  }

  /**
   * The downstream peer's certificate once the connection's TLS handshake has finished ({@link
   * PeerCertificate#NONE} when the peer sent none); null for a plaintext connection, or before the
   * handshake ends.
   */
  public PeerCertificate peerCertificate() {
    if (peerCertificate == null) {
      SslHandler ssl = channel.pipeline().get(SslHandler.class);
      if (ssl != null && ssl.handshakeFuture().isSuccess()) {
        peerCertificate = PeerCertificate.of(ssl.engine().getSession());
      }
    }
    return peerCertificate;
  }

  /**
   * The certificate this proxy presented to the downstream peer, once the handshake has finished;
   * null for a plaintext connection, or before the handshake ends.
   */
  public PeerCertificate localCertificate() {
    // Asked for every request's metrics: parsed once per connection, not per request.
    if (localCertificate == null) {
      SslHandler ssl = channel.pipeline().get(SslHandler.class);
      if (ssl != null && ssl.handshakeFuture().isSuccess()) {
        localCertificate = PeerCertificate.local(ssl.engine().getSession());
      }
    }
    return localCertificate;
  }

  /** The cluster a TCP chain relays to, once chosen. */
  public String upstreamCluster() {
    return upstreamCluster;
  }

  public String upstreamHost() {
    return upstreamHost;
  }

  /**
   * The TCP chain's upstream connection is up: network filters that wait for it (Istio's TCP stats,
   * which need the destination service) run now.
   */
  public void upstreamConnected(String cluster, String host) {
    this.upstreamCluster = cluster;
    this.upstreamHost = host;
    if (onUpstreamConnected != null) {
      onUpstreamConnected.forEach(Runnable::run);
      onUpstreamConnected = null;
    }
  }

  public void whenUpstreamConnected(Runnable r) {
    if (upstreamHost != null) {
      r.run();
      return;
    }
    if (onUpstreamConnected == null) {
      onUpstreamConnected = new ArrayList<>(2);
    }
    onUpstreamConnected.add(r);
  }

  public long bytesReceived() {
    return bytesReceived;
  }

  public long bytesSent() {
    return bytesSent;
  }

  public void addBytesReceived(long n) {
    bytesReceived += n;
  }

  public void addBytesSent(long n) {
    bytesSent += n;
  }

  public void addResponseFlag(ResponseFlag f) {
    responseFlags |= 1 << f.ordinal();
  }

  public String responseFlags() {
    return ResponseFlag.toShortString(responseFlags);
  }

  /** {@code ip:port} of an address, as Envoy's access log prints it; null for none. */
  public static String format(InetSocketAddress a) {
    return a == null || a.getAddress() == null
        ? null
        : a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  /**
   * {@link #format} of a connected channel's local address, made once per channel: an upstream
   * connection serves many requests, and each one's stream info records it.
   */
  public static String localAddress(Channel channel) {
    if (channel == null) {
      return null;
    }
    io.netty.util.Attribute<String> cached = channel.attr(LOCAL_ADDRESS);
    String s = cached.get();
    if (s == null && channel.localAddress() instanceof InetSocketAddress a) {
      s = format(a);
      cached.set(s);
    }
    return s;
  }
}
