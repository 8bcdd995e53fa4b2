package dev.mesh.proxy.server;

import dev.mesh.proxy.admin.AdminServer;
import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.listener.ListenerManager;
import dev.mesh.proxy.listener.Transport;
import dev.mesh.proxy.net.Addresses;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.logging.Logger;

/** The running proxy: clusters, listeners and admin, built from a bootstrap. */
public final class ProxyServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ProxyServer.class.getName());

  static {
    // DNS clusters re-resolve on their own dns_refresh_rate, as Envoy's do; the JVM's own cache
    // (30 s for answers by default) would hide changes from them.
    java.security.Security.setProperty("networkaddress.cache.ttl", "0");
    java.security.Security.setProperty("networkaddress.cache.negative.ttl", "0");
  }

  public static final String VERSION = "0.1.0";

  /** Envoy's server states, as /ready and /server_info report them. */
  public enum State {
    INITIALIZING,
    LIVE,
    DRAINING
  }

  private final Bootstrap bootstrap;
  private final Stats stats = new Stats();
  private final Transport transport;
  private final ScheduledExecutorService background =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "mesh-proxy-background");
            t.setDaemon(true);
            return t;
          });
  private final ClusterManager clusters;
  private final dev.mesh.proxy.secret.SecretManager secrets;
  private final ListenerManager listeners;
  private final AdminServer admin;
  private dev.mesh.proxy.xds.AdsClient ads;
  private volatile io.netty.channel.EventLoopGroup xdsLoop;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private final long startMillis = System.currentTimeMillis();
  private volatile State state = State.INITIALIZING;
  private final Object liveLock = new Object();
  private volatile boolean firstConfigIn;
  private volatile boolean healthCheckFailed;

  private final java.time.Duration drainTime;
  private final boolean immediateDrain;

  public ProxyServer(Bootstrap bootstrap, int concurrency) {
    this(bootstrap, concurrency, java.time.Duration.ofSeconds(600), false);
  }

  /** With Envoy's --drain-time-s and --drain-strategy (immediate, or gradual). */
  public ProxyServer(
      Bootstrap bootstrap, int concurrency, java.time.Duration drainTime, boolean immediateDrain) {
    this.drainTime = drainTime;
    this.immediateDrain = immediateDrain;
    this.bootstrap = bootstrap;
    this.transport = Transport.create(concurrency);
    this.secrets = new dev.mesh.proxy.secret.SecretManager(background);
    this.clusters = new ClusterManager(stats, background, secrets);
    this.listeners =
        new ListenerManager(
            clusters, transport, stats, bootstrap.getNode(), this::healthCheckFailed, secrets);
    this.listeners.configureDrain(drainTime, immediateDrain, background);
    this.listeners.onWarmed(() -> background.execute(this::liveIfWarm));
    this.clusters.onWarmed(() -> background.execute(this::liveIfWarm));
    this.admin = new AdminServer(this);
  }

  /** Applies the static resources and opens admin; throws ConfigRejectedException. */
  public ProxyServer start() throws InterruptedException {
    try {
      secrets.loadStatic(bootstrap.getStaticResources().getSecretsList());
      clusters.apply(bootstrap.getStaticResources().getClustersList());
      secrets.start(this::sdsSource); // its clusters (sds-grpc) are static ones, in force now
      listeners.apply(bootstrap.getStaticResources().getListenersList());
      if (bootstrap.hasAdmin() && bootstrap.getAdmin().hasAddress()) {
        admin.start(Addresses.bindAddress(bootstrap.getAdmin().getAddress(), "admin"));
        LOG.info(
            "admin on "
                + bootstrap.getAdmin().getAddress().getSocketAddress().getAddress()
                + ":"
                + admin.port());
      }
      if (bootstrap.hasDynamicResources()) {
        startXds();
        return this; // LIVE once the first config is in force, or at initial_fetch_timeout
      }
    } catch (RuntimeException | InterruptedException e) {
      close();
      throw e;
    }
    state = State.LIVE;
    return this;
  }

  /** The SDS client of a gRPC source: the static cluster its envoy_grpc names. */
  private dev.mesh.proxy.secret.SecretSource sdsSource(String cluster) {
    var target =
        dev.mesh.proxy.xds.XdsBootstrap.grpcTarget(
            cluster, clusters, transport.channel(), false, "sds_config");
    return new dev.mesh.proxy.xds.SdsGrpcClient(
        cluster, target, xdsLoop(), bootstrap.getNode(), secrets);
  }

  /** The loop of the xDS and SDS streams, made when the first of them needs it. */
  private synchronized io.netty.channel.EventLoop xdsLoop() {
    if (xdsLoop == null) {
      xdsLoop =
          new io.netty.channel.MultiThreadIoEventLoopGroup(
              1,
              r -> {
                Thread t = new Thread(r, "mesh-proxy-xds");
                t.setDaemon(true);
                return t;
              },
              io.netty.channel.epoll.Epoll.isAvailable()
                  ? io.netty.channel.epoll.EpollIoHandler.newFactory()
                  : io.netty.channel.nio.NioIoHandler.newFactory());
    }
    return xdsLoop.next();
  }

  /**
   * LIVE once the first config is in and nothing of it still warms for its secrets, as Envoy's init
   * manager waits for the initial clusters and listeners to warm: a sidecar reported ready while
   * its inbound listener waited for its certificate refused the connections sent to it (15006
   * unbound).
   */
  private void liveIfWarm() {
    synchronized (liveLock) {
      if (state == State.INITIALIZING
          && firstConfigIn
          && listeners.warming().isEmpty()
          && clusters.warming().isEmpty()) {
        state = State.LIVE;
        LOG.info("server LIVE");
      }
    }
  }

  /** At initial_fetch_timeout: LIVE with what is in force, warming or not. */
  private void liveAnyway() {
    synchronized (liveLock) {
      if (state == State.INITIALIZING) {
        int warming = listeners.warming().size() + clusters.warming().size();
        LOG.warning(
            "xDS: "
                + (firstConfigIn
                    ? warming + " listeners and clusters still warming"
                    : "no complete config")
                + " at initial_fetch_timeout; serving what is in force");
        state = State.LIVE;
        LOG.info("server LIVE");
      }
    }
  }

  /** Starts the ADS client; the server goes LIVE with its first config, as Envoy's init does. */
  private void startXds() {
    var target = dev.mesh.proxy.xds.XdsBootstrap.target(bootstrap, clusters, transport.channel());
    io.netty.channel.EventLoop loop = xdsLoop();
    Runnable live =
        () -> {
          firstConfigIn = true;
          liveIfWarm();
        };
    ads =
        new dev.mesh.proxy.xds.AdsClient(
            target,
            loop,
            bootstrap.getNode(),
            clusters,
            listeners,
            bootstrap.getStaticResources().getClustersList(),
            bootstrap.getStaticResources().getListenersList(),
            stats,
            secrets,
            live);
    ads.start();
    background.schedule(
        this::liveAnyway,
        dev.mesh.proxy.xds.XdsBootstrap.initialFetchTimeout(bootstrap).toMillis(),
        java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** The xDS client, or null when the bootstrap has no dynamic_resources. */
  public dev.mesh.proxy.xds.AdsClient ads() {
    return ads;
  }

  public Bootstrap bootstrap() {
    return bootstrap;
  }

  public Stats stats() {
    return stats;
  }

  public Transport transport() {
    return transport;
  }

  public dev.mesh.proxy.secret.SecretManager secrets() {
    return secrets;
  }

  public ClusterManager clusters() {
    return clusters;
  }

  public ListenerManager listeners() {
    return listeners;
  }

  public AdminServer admin() {
    return admin;
  }

  public State state() {
    return state;
  }

  public long uptimeSeconds() {
    return (System.currentTimeMillis() - startMillis) / 1000;
  }

  public boolean healthCheckFailed() {
    return healthCheckFailed;
  }

  public void setHealthCheckFailed(boolean failed) {
    healthCheckFailed = failed;
  }

  /**
   * Envoy's /drain_listeners: drain all listeners, or only inbound ones; with {@code graceful} they
   * keep accepting for the drain time, telling clients to go, then stop.
   */
  public void drainListeners(boolean inboundOnly, boolean graceful) {
    state = State.DRAINING;
    listeners.drain(inboundOnly, graceful, drainTime, immediateDrain, background);
  }

  /** Ends the process's serving after the admin response has gone out. */
  public void shutdownSoon() {
    quitRequested = true;
    background.schedule(this::close, 50, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private volatile boolean quitRequested;

  /**
   * Whether the server was asked to end through its admin (POST /quitquitquit). A host that runs
   * the server in its own process ends then, as Envoy's process would, instead of taking the stop
   * for a failure.
   */
  public boolean quitRequested() {
    return quitRequested;
  }

  /**
   * After {@link #close()}: waits until the threads this server started (its workers, the xDS loop,
   * the background timer) have ended, and with them its sockets, so that a host starting another
   * server in the same process knows this one holds nothing any more. False if they had not all
   * ended within the timeout.
   */
  public boolean awaitTermination(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean ended =
        transport
            .workers()
            .terminationFuture()
            .await(
                Math.max(0, deadline - System.nanoTime()),
                java.util.concurrent.TimeUnit.NANOSECONDS);
    io.netty.channel.EventLoopGroup xds = xdsLoop;
    if (xds != null) {
      ended &=
          xds.terminationFuture()
              .await(
                  Math.max(0, deadline - System.nanoTime()),
                  java.util.concurrent.TimeUnit.NANOSECONDS);
    }
    ended &=
        background.awaitTermination(
            Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
    return ended;
  }

  public void awaitStop() throws InterruptedException {
    stopped.await();
  }

  @Override
  public void close() {
    if (stopped.getCount() == 0) {
      return;
    }
    if (ads != null) {
      ads.close();
    }
    secrets.close();
    if (xdsLoop != null) {
      xdsLoop.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
    }
    listeners.closeAll();
    admin.stop();
    transport.workers().shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS);
    background.shutdownNow();
    stopped.countDown();
  }
}
