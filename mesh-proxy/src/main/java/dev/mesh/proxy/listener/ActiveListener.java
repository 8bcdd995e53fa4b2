package dev.mesh.proxy.listener;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.extension.Extensions;
import dev.mesh.proxy.filters.network.hcm.HttpConnectionManagerFilter;
import dev.mesh.proxy.http.hcm.DrainState;
import dev.mesh.proxy.http.hcm.HcmConfig;
import dev.mesh.proxy.net.Addresses;
import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.network.ListenerFilterFactory;
import dev.mesh.proxy.network.NetworkFilter;
import dev.mesh.proxy.network.NetworkFilterContext;
import dev.mesh.proxy.network.NetworkFilterFactory;
import dev.mesh.proxy.stats.Stats;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.tls.TlsContexts;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

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
  private final boolean handsOffByOriginalDst;
  private final boolean bindToPort;
  private final java.util.function.BiFunction<InetSocketAddress, ActiveListener, ActiveListener>
      listenerFor;

  /** A filter chain: when it applies, its TLS, and its network filters in order. */
  private record Chain(
      FilterChainMatch match,
      String name,
      dev.mesh.proxy.tls.TlsContext tls,
      List<NetworkFilter> filters) {}

  private final Chain defaultChain;
  private final List<HcmConfig> connectionManagers = new ArrayList<>();
  private volatile boolean draining;
  // The connections this listener's chains serve, for draining when it is replaced or removed.
  private final io.netty.channel.group.ChannelGroup connections =
      new io.netty.channel.group.DefaultChannelGroup(
          io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);
  private final List<FilterChainMatch> matches;
  private final List<Configured> listenerFilters;

  /** A listener filter, and the connections that skip it (filter_disabled), if any. */
  private record Configured(
      ListenerFilter filter, java.util.function.Predicate<ConnectionInfo> disabled) {}

  private final long listenerFiltersTimeoutMillis;
  private final dev.mesh.proxy.secret.SecretManager secrets;
  private final Stats.Counter sslHandshake;
  private final Stats.Counter sslConnectionError;

  ActiveListener(
      Listener config,
      ClusterManager clusters,
      Transport transport,
      Stats stats,
      java.util.function.BiFunction<InetSocketAddress, ActiveListener, ActiveListener> listenerFor,
      io.envoyproxy.envoy.config.core.v3.Node node,
      java.util.function.BooleanSupplier serverFailing,
      dev.mesh.proxy.secret.SecretManager secrets) {
    this.config = config;
    this.secrets = secrets;
    this.node = node;
    this.serverFailing = serverFailing;
    this.listenerFor = listenerFor;
    this.bindToPort = !config.hasBindToPort() || config.getBindToPort().getValue();
    this.handsOffByOriginalDst =
        config.hasUseOriginalDst() && config.getUseOriginalDst().getValue();
    List<Configured> filters = new ArrayList<>();
    for (var f : config.getListenerFiltersList()) {
      String at = "listener " + config.getName() + ": listener filter " + f.getName();
      ListenerFilterFactory factory;
      com.google.protobuf.Message typed;
      if (f.hasTypedConfig()) {
        var found = Extensions.listenerFilter(f.getTypedConfig(), at);
        factory = found.factory();
        typed = found.config();
      } else {
        factory = Extensions.listenerFilterNamed(f.getName());
        if (factory == null) {
          throw new ConfigRejectedException(
              at + ": no typed_config, and none is known by that name");
        }
        typed = factory.defaultConfig();
      }
      filters.add(
          new Configured(
              factory.compile(typed),
              f.hasFilterDisabled()
                  ? ListenerFilterPredicate.of(f.getFilterDisabled(), at)
                  : null));
    }
    this.listenerFilters = List.copyOf(filters);
    this.address = Addresses.bindAddress(config.getAddress(), "listener " + config.getName());
    boolean inbound =
        config.getTrafficDirection() == io.envoyproxy.envoy.config.core.v3.TrafficDirection.INBOUND;
    NetworkFilterContext context =
        new NetworkFilterContext(
            config.getName(), inbound, node, stats, clusters, transport.channel(), serverFailing);
    List<Chain> compiled = new ArrayList<>();
    for (FilterChain fc : config.getFilterChainsList()) {
      compiled.add(chain(fc, context));
    }
    this.defaultChain =
        config.hasDefaultFilterChain() ? chain(config.getDefaultFilterChain(), context) : null;
    if (compiled.isEmpty() && defaultChain == null) {
      throw new ConfigRejectedException("listener " + config.getName() + ": has no filter_chains");
    }
    this.chains = List.copyOf(compiled);
    this.matches = chains.stream().map(Chain::match).toList();
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
    this.sslHandshake = stats.counter(s, "ssl.handshake");
    this.sslConnectionError = stats.counter(s, "ssl.connection_error");
  }

  /** The TLS contexts of this listener's chains (also for /certs). */
  public List<dev.mesh.proxy.tls.TlsContext> tlsContexts() {
    List<dev.mesh.proxy.tls.TlsContext> out = new ArrayList<>();
    for (Chain c : chains) {
      if (c.tls() != null) {
        out.add(c.tls());
      }
    }
    if (defaultChain != null && defaultChain.tls() != null) {
      out.add(defaultChain.tls());
    }
    return out;
  }

  /**
   * Whether every SDS secret of this listener's chains arrived (or stopped being waited for): a
   * listener that is not ready warms, unbound, as Envoy's does until its init targets are done.
   */
  boolean ready() {
    return tlsContexts().stream().allMatch(dev.mesh.proxy.tls.TlsContext::ready);
  }

  /** Runs {@code r} whenever one of the chains' TLS contexts changes. */
  void onTlsChange(Runnable r) {
    tlsContexts().forEach(t -> t.onChange(r));
  }

  /** The SDS secrets this listener waits for, for the log. */
  List<String> awaitedSecrets() {
    return tlsContexts().stream()
        .filter(t -> !t.ready())
        .flatMap(t -> t.secrets().stream())
        .distinct()
        .toList();
  }

  /**
   * A filter chain's network filters, each through its factory (by its typed_config's type, or by
   * name), the terminal one last; and its TLS transport socket, if it has one.
   */
  private Chain chain(FilterChain fc, NetworkFilterContext context) {
    String where = "listener " + config.getName();
    if (fc.getFiltersCount() == 0) {
      throw new ConfigRejectedException(where + ": a filter chain needs a network filter");
    }
    List<NetworkFilter> filters = new ArrayList<>();
    for (int i = 0; i < fc.getFiltersCount(); i++) {
      var f = fc.getFilters(i);
      String at = where + ": network filter " + f.getName();
      NetworkFilterFactory factory;
      com.google.protobuf.Message typed;
      if (f.hasTypedConfig()) {
        var found = Extensions.networkFilter(f.getTypedConfig(), at);
        factory = found.factory();
        typed = found.config();
      } else {
        factory = Extensions.networkFilterNamed(f.getName());
        if (factory == null) {
          throw new ConfigRejectedException(
              at + ": no typed_config, and none is known by that name");
        }
        typed =
            factory.defaultConfig() == null
                ? com.google.protobuf.Struct.getDefaultInstance()
                : factory.defaultConfig();
      }
      boolean last = i == fc.getFiltersCount() - 1;
      if (last != factory.terminal()) {
        throw new ConfigRejectedException(
            at
                + (last
                    ? ": the last network filter must be a terminal one such as"
                        + " envoy.filters.network.tcp_proxy"
                    : ": " + factory.name() + " can only be last"));
      }
      NetworkFilter filter = factory.compile(typed, context);
      if (filter instanceof HttpConnectionManagerFilter hcm) {
        connectionManagers.add(hcm.config());
      }
      filters.add(filter);
    }
    dev.mesh.proxy.tls.TlsContext tls =
        TlsContexts.downstream(fc.getTransportSocket(), secrets, where);
    return new Chain(fc.getFilterChainMatch(), fc.getName(), tls, List.copyOf(filters));
  }

  /** The HTTP connection managers of this listener's filter chains. */
  public List<HcmConfig> connectionManagers() {
    return List.copyOf(connectionManagers);
  }

  /**
   * A listener replaced or removed: its HTTP connections drain (told to close as Envoy tells them,
   * by Connection: close or GOAWAY), and whatever is still open after the drain time closes.
   */
  void retire(
      DrainState state,
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
  void startDraining(DrainState state) {
    draining = true;
    connectionManagers.forEach(h -> h.startDraining(state));
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
   * Runs this listener's filters on a connection (accepted here, or handed off by another): the
   * listener filters, the hand-off to the listener of the original destination (use_original_dst),
   * else the filter chain chosen by what the listener filters found.
   */
  void accept(Channel ch, boolean handedOff) {
    ConnectionInfo info = ConnectionInfo.of(ch);
    List<ListenerFilter> inspectors = null;
    for (Configured c : listenerFilters) {
      if (c.disabled() != null && c.disabled().test(info)) {
        continue;
      }
      c.filter().onAccept(ch, info);
      if (c.filter().maxReadBytes() > 0) {
        if (inspectors == null) {
          inspectors = new ArrayList<>(2);
        }
        inspectors.add(c.filter());
      }
    }
    if (inspectors == null) {
      afterListenerFilters(ch, info, handedOff);
      return;
    }
    ch.pipeline()
        .addLast(
            new ListenerFilterChain(
                inspectors,
                listenerFiltersTimeoutMillis,
                config.getContinueOnListenerFiltersTimeout(),
                ctx -> afterListenerFilters(ch, info, handedOff)));
  }

  private void afterListenerFilters(Channel ch, ConnectionInfo info, boolean handedOff) {
    if (!handedOff && handsOffByOriginalDst) {
      ActiveListener target = listenerFor.apply(info.localAddress(), this);
      if (target != null) {
        target.accept(ch, true);
        return;
      }
    }
    cxTotal.inc();
    connections.add(ch);
    info.setListenerName(config.getName());
    int i = FilterChainSelector.select(matches, ConnectionFacts.of(info));
    Chain chain = i >= 0 ? chains.get(i) : defaultChain;
    if (chain == null) {
      noFilterChain.inc();
      ch.close();
      return;
    }
    info.setFilterChainName(chain.name());
    if (chain.tls() != null) {
      io.netty.handler.ssl.SslContext tls = chain.tls().current();
      if (tls == null) {
        // Its secret never came (initial_fetch_timeout passed): Envoy fails these handshakes too.
        sslConnectionError.inc();
        ch.close();
        return;
      }
      io.netty.handler.ssl.SslHandler handler = tls.newHandler(ch.alloc());
      handler
          .handshakeFuture()
          .addListener(
              f -> {
                if (f.isSuccess()) {
                  sslHandshake.inc();
                } else {
                  sslConnectionError.inc();
                }
              });
      ch.pipeline().addLast(handler);
    }
    for (NetworkFilter f : chain.filters()) {
      f.onNewConnection(ch, info);
    }
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
    accept(ch, false);
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
