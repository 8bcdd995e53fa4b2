package dev.mesh.proxy.listener;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.http.HttpConnectionManagerConfig;
import dev.mesh.proxy.http.HttpConnectionManagerFilter;
import dev.mesh.proxy.net.Addresses;
import dev.mesh.proxy.stats.Stats;
import dev.mesh.proxy.tcp.TcpProxyHandler;
import dev.mesh.proxy.tls.TlsContexts;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.listener.http_inspector.v3.HttpInspector;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;
import io.envoyproxy.envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** A bound listener: its socket, and its filter chains compiled once. */
public final class ActiveListener {
  private final Listener config;
  private final InetSocketAddress address;
  private final List<Chain> chains;
  private final Stats.Counter cxTotal;
  private final Stats.Counter noFilterChain;
  private Channel server;
  // The bound socket's acceptor hands each connection to whichever listener owns the socket now.
  private Acceptor acceptor;

  /** Passes accepted connections to the listener in force on a socket, which can change. */
  private static final class Acceptor extends ChannelInitializer<SocketChannel> {
    volatile ActiveListener owner;

    Acceptor(ActiveListener owner) {
      this.owner = owner;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
      owner.acceptOnOwnSocket(ch);
    }
  }

  private final io.envoyproxy.envoy.config.core.v3.Node node;
  private final java.util.function.BooleanSupplier serverFailing;
  private final boolean originalDstFilter;
  private final boolean handsOffByOriginalDst;
  private final boolean bindToPort;
  private final java.util.function.BiFunction<InetSocketAddress, ActiveListener, ActiveListener>
      listenerFor;

  /** A filter chain: when it applies, and what it installs on a connection. */
  private record Chain(FilterChainMatch match, Consumer<Channel> install) {}

  private final Chain defaultChain;
  private final List<HttpConnectionManagerConfig> connectionManagers = new ArrayList<>();
  private volatile boolean draining;
  // The connections this listener's chains serve, for draining when it is replaced or removed.
  private final io.netty.channel.group.ChannelGroup connections =
      new io.netty.channel.group.DefaultChannelGroup(
          io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);
  private final List<FilterChainMatch> matches;
  private final boolean tlsInspector;
  private final boolean httpInspector;
  private final long listenerFiltersTimeoutMillis;

  ActiveListener(
      Listener config,
      ClusterManager clusters,
      Transport transport,
      Stats stats,
      java.util.function.BiFunction<InetSocketAddress, ActiveListener, ActiveListener> listenerFor,
      io.envoyproxy.envoy.config.core.v3.Node node,
      java.util.function.BooleanSupplier serverFailing) {
    this.config = config;
    this.node = node;
    this.serverFailing = serverFailing;
    this.listenerFor = listenerFor;
    this.bindToPort = !config.hasBindToPort() || config.getBindToPort().getValue();
    this.originalDstFilter =
        config.getListenerFiltersList().stream()
            .anyMatch(f -> f.getTypedConfig().is(OriginalDst.class));
    this.handsOffByOriginalDst =
        config.hasUseOriginalDst() && config.getUseOriginalDst().getValue();
    for (var f : config.getListenerFiltersList()) {
      if (!f.getTypedConfig().is(OriginalDst.class)
          && !f.getTypedConfig().is(TlsInspector.class)
          && !f.getTypedConfig().is(HttpInspector.class)) {
        throw new ConfigRejectedException(
            "listener "
                + config.getName()
                + ": listener filter "
                + f.getTypedConfig().getTypeUrl()
                + " is not supported");
      }
    }
    this.address = Addresses.bindAddress(config.getAddress(), "listener " + config.getName());
    List<Chain> compiled = new ArrayList<>();
    for (FilterChain fc : config.getFilterChainsList()) {
      compiled.add(chain(fc, clusters, transport, stats));
    }
    this.defaultChain =
        config.hasDefaultFilterChain()
            ? chain(config.getDefaultFilterChain(), clusters, transport, stats)
            : null;
    if (compiled.isEmpty() && defaultChain == null) {
      throw new ConfigRejectedException("listener " + config.getName() + ": has no filter_chains");
    }
    this.chains = List.copyOf(compiled);
    this.matches = chains.stream().map(Chain::match).toList();
    this.tlsInspector =
        config.getListenerFiltersList().stream()
            .anyMatch(f -> f.getTypedConfig().is(TlsInspector.class));
    this.httpInspector =
        config.getListenerFiltersList().stream()
            .anyMatch(f -> f.getTypedConfig().is(HttpInspector.class));
    this.listenerFiltersTimeoutMillis =
        ProtoDurations.orDefault(
                config.hasListenerFiltersTimeout(),
                config.getListenerFiltersTimeout(),
                java.time.Duration.ofSeconds(15))
            .toMillis();
    Stats.Scope s =
        Stats.Scope.listener(
            config.getStatPrefix().isEmpty()
                ? Addresses.statName(address)
                : config.getStatPrefix());
    this.cxTotal = stats.counter(s, "downstream_cx_total");
    this.noFilterChain = stats.counter(s, "no_filter_chain_match");
  }

  /** A chain's network filter, behind its TLS transport socket when it has one. */
  private Chain chain(FilterChain fc, ClusterManager clusters, Transport transport, Stats stats) {
    Consumer<Channel> filters = compile(fc, clusters, transport, stats);
    io.netty.handler.ssl.SslContext tls =
        TlsContexts.downstream(fc.getTransportSocket(), "listener " + config.getName());
    if (tls == null) {
      return new Chain(fc.getFilterChainMatch(), filters);
    }
    return new Chain(
        fc.getFilterChainMatch(),
        ch -> {
          ch.pipeline().addLast(tls.newHandler(ch.alloc()));
          filters.accept(ch);
        });
  }

  private Consumer<Channel> compile(
      FilterChain fc, ClusterManager clusters, Transport transport, Stats stats) {
    if (fc.getFiltersCount() == 0) {
      throw new ConfigRejectedException(
          "listener " + config.getName() + ": a filter chain needs a network filter");
    }
    // Istio's network filters may come first; the last filter is the one that handles traffic.
    boolean istioTcpStats = false;
    for (var f : fc.getFiltersList().subList(0, fc.getFiltersCount() - 1)) {
      String istio = istioNetworkFilter(f);
      if (istio == null) {
        throw new ConfigRejectedException(
            "listener "
                + config.getName()
                + ": network filter "
                + f.getTypedConfig().getTypeUrl()
                + " can only be last, or is not supported");
      }
      istioTcpStats |= istio.equals(ISTIO_STATS);
    }
    var typed = fc.getFilters(fc.getFiltersCount() - 1).getTypedConfig();
    boolean inbound =
        config.getTrafficDirection() == io.envoyproxy.envoy.config.core.v3.TrafficDirection.INBOUND;
    try {
      if (typed.is(HttpConnectionManager.class)) {
        HttpConnectionManagerConfig hcm =
            register(
                new HttpConnectionManagerConfig(
                    typed.unpack(HttpConnectionManager.class),
                    stats,
                    node,
                    inbound,
                    name -> clusters.get(name) != null,
                    serverFailing));
        return ch ->
            HttpConnectionManagerFilter.install(ch.pipeline(), hcm, clusters, transport.channel());
      }
      if (typed.is(TcpProxy.class)) {
        TcpProxy tcp = typed.unpack(TcpProxy.class);
        TcpProxyHandler.IstioTcpStats istio =
            istioTcpStats
                ? new TcpProxyHandler.IstioTcpStats(
                    new dev.mesh.proxy.istio.IstioStandardMetrics(stats.labelled()),
                    dev.mesh.proxy.istio.Workload.of(node.getMetadata()),
                    inbound)
                : null;
        return ch -> {
          ch.config().setOption(io.netty.channel.ChannelOption.ALLOW_HALF_CLOSURE, true);
          ch.pipeline()
              .addLast(new TcpProxyHandler(tcp, clusters, transport.channel(), stats, istio));
        };
      }
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new ConfigRejectedException("listener " + config.getName() + ": " + e.getMessage(), e);
    }
    throw new ConfigRejectedException(
        "listener "
            + config.getName()
            + ": network filter "
            + typed.getTypeUrl()
            + " is not supported");
  }

  private HttpConnectionManagerConfig register(HttpConnectionManagerConfig hcm) {
    connectionManagers.add(hcm);
    return hcm;
  }

  /** The HTTP connection managers of this listener's filter chains. */
  public List<HttpConnectionManagerConfig> connectionManagers() {
    return List.copyOf(connectionManagers);
  }

  /**
   * A listener replaced or removed: its HTTP connections drain (told to close as Envoy tells them,
   * by Connection: close or GOAWAY), and whatever is still open after the drain time closes.
   */
  void retire(
      dev.mesh.proxy.http.DrainState state,
      java.time.Duration drainTime,
      java.util.concurrent.ScheduledExecutorService timer) {
    if (!draining) {
      startDraining(state); // a listener drained by /drain_listeners keeps its drain's progress
    }
    if (!connections.isEmpty()) {
      timer.schedule(
          () -> {
            connections.close();
          },
          drainTime.toMillis(),
          java.util.concurrent.TimeUnit.MILLISECONDS);
    }
  }

  /** Connections this listener serves now. */
  public int openConnections() {
    return connections.size();
  }

  /** Starts draining this listener's HTTP connections. */
  void startDraining(dev.mesh.proxy.http.DrainState state) {
    draining = true;
    connectionManagers.forEach(h -> h.startDraining(state));
  }

  static final String ISTIO_STATS = "type.googleapis.com/stats.PluginConfig";

  /**
   * Istio's TCP metadata exchange learns the peer only through mTLS's ALPN, so over plaintext it
   * learns nothing, in Istio as here: accepted, and the peer stays unknown.
   */
  static final String ISTIO_TCP_METADATA_EXCHANGE =
      "type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange";

  /** The Istio type of a network filter given as a TypedStruct, or null. */
  private static String istioNetworkFilter(io.envoyproxy.envoy.config.listener.v3.Filter f) {
    if (!f.getTypedConfig().is(com.github.xds.type.v3.TypedStruct.class)) {
      return null;
    }
    try {
      String type =
          f.getTypedConfig().unpack(com.github.xds.type.v3.TypedStruct.class).getTypeUrl();
      return type.equals(ISTIO_STATS) || type.equals(ISTIO_TCP_METADATA_EXCHANGE) ? type : null;
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      return null;
    }
  }

  public Listener config() {
    return config;
  }

  public InetSocketAddress address() {
    return address;
  }

  /** A listener with bind_to_port false only takes connections handed off by another. */
  boolean bindsToPort() {
    return bindToPort;
  }

  /**
   * Runs this listener's filter chain for a connection whose destination is {@code dst}; with
   * inspectors, once they have seen the first bytes.
   */
  void accept(Channel ch, InetSocketAddress dst) {
    cxTotal.inc();
    connections.add(ch);
    if (tlsInspector || httpInspector) {
      ch.pipeline()
          .addLast(
              new ProtocolSniffer(
                  tlsInspector,
                  httpInspector,
                  listenerFiltersTimeoutMillis,
                  config.getContinueOnListenerFiltersTimeout(),
                  dst,
                  (ctx, facts) -> install(ch, facts)));
      return;
    }
    install(ch, ConnectionFacts.unsniffed(dst));
  }

  private void install(Channel ch, ConnectionFacts facts) {
    int i = FilterChainSelector.select(matches, facts);
    Chain chain = i >= 0 ? chains.get(i) : defaultChain;
    if (chain == null) {
      noFilterChain.inc();
      ch.close();
      return;
    }
    chain.install().accept(ch);
  }

  void bind(Transport transport) throws InterruptedException {
    if (!bindToPort) {
      return;
    }
    ServerBootstrap b = new ServerBootstrap();
    if (config.hasTransparent()
        && config.getTransparent().getValue()
        && transport.serverChannel() == io.netty.channel.epoll.EpollServerSocketChannel.class) {
      b.option(io.netty.channel.epoll.EpollChannelOption.IP_TRANSPARENT, true);
    }
    server =
        b.group(transport.workers())
            .channel(transport.serverChannel())
            .option(ChannelOption.SO_REUSEADDR, true)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(acceptor = new Acceptor(this))
            .bind(address)
            .sync()
            .channel();
  }

  private void acceptOnOwnSocket(SocketChannel ch) {
    InetSocketAddress dst = originalDstFilter ? OriginalDestination.of(ch) : ch.localAddress();
    ch.attr(OriginalDestination.KEY).set(dst);
    ActiveListener target = handsOffByOriginalDst ? listenerFor.apply(dst, this) : null;
    (target != null ? target : this).accept(ch, dst);
  }

  /**
   * Whether this listener can take over {@code old}'s socket: same address and socket options, so
   * an update swaps filter chains on the bound socket, as Envoy does, instead of closing it and
   * binding again (which refuses connections in between and moves a port-0 listener).
   */
  boolean canAdopt(ActiveListener old) {
    return old.server != null
        && bindToPort
        && old.config.getAddress().equals(config.getAddress())
        && old.config.getTransparent().equals(config.getTransparent());
  }

  boolean isBound() {
    return server != null;
  }

  /** Takes over {@code old}'s bound socket: new connections get this listener's chains. */
  void adopt(ActiveListener old) {
    server = old.server;
    acceptor = old.acceptor;
    acceptor.owner = this;
    old.server = null;
  }

  /** The bound port: the configured one, or the one the kernel chose for port 0. */
  public int boundPort() {
    return server == null
        ? address.getPort()
        : ((InetSocketAddress) server.localAddress()).getPort();
  }

  void close() {
    if (server != null) {
      server.close().syncUninterruptibly();
    }
  }
}
