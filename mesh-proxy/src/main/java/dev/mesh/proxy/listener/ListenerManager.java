package dev.mesh.proxy.listener;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.http.hcm.HcmConfig;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * The listeners in force. A new set is compiled whole before anything changes (a bad listener
 * refuses the set and the old one keeps serving); then new listeners are bound before removed ones
 * are closed, and unchanged ones are left alone.
 */
public final class ListenerManager {
  private static final Logger LOG = Logger.getLogger(ListenerManager.class.getName());

  private final ClusterManager clusters;
  private final Transport transport;
  private final Stats stats;
  private final Map<String, ActiveListener> active = new LinkedHashMap<>();
  // Listeners waiting for their SDS secrets, by name; the one of that name in force (if any)
  // serves meanwhile.
  private final Map<String, ActiveListener> warming = new LinkedHashMap<>();
  private final dev.mesh.proxy.secret.SecretManager secrets;
  // Read on event loops for every captured connection: replaced whole, never mutated.
  private volatile Map<String, ActiveListener> byAddress = Map.of();

  // The route configurations RDS delivered, by name; listeners that name one in their rds use it.
  private Map<String, io.envoyproxy.envoy.config.route.v3.RouteConfiguration> routeConfigs =
      Map.of();

  // How replaced and removed listeners drain (Envoy's --drain-time-s and --drain-strategy).
  private java.time.Duration drainTime = java.time.Duration.ofMinutes(10);
  private boolean immediateDrain;
  private java.util.concurrent.ScheduledExecutorService drainTimer;

  private final io.envoyproxy.envoy.config.core.v3.Node node;
  private final java.util.function.BooleanSupplier serverFailing;

  public ListenerManager(
      ClusterManager clusters,
      Transport transport,
      Stats stats,
      io.envoyproxy.envoy.config.core.v3.Node node,
      java.util.function.BooleanSupplier serverFailing,
      dev.mesh.proxy.secret.SecretManager secrets) {
    this.secrets = secrets;
    this.node = node;
    this.serverFailing = serverFailing;
    this.clusters = clusters;
    this.transport = transport;
    this.stats = stats;
  }

  public synchronized Collection<ActiveListener> all() {
    return List.copyOf(active.values());
  }

  public synchronized ActiveListener get(String name) {
    return active.get(name);
  }

  /** How listeners that are replaced or removed drain their connections. */
  public synchronized void configureDrain(
      java.time.Duration drainTime,
      boolean immediate,
      java.util.concurrent.ScheduledExecutorService timer) {
    this.drainTime = drainTime;
    this.immediateDrain = immediate;
    this.drainTimer = timer;
  }

  private void retire(ActiveListener old) {
    if (drainTimer != null) {
      old.retire(
          dev.mesh.proxy.http.hcm.DrainState.start(drainTime, immediateDrain),
          drainTime,
          drainTimer);
    }
  }

  /** A listener set compiled against the one in force: all of it, and what is new or changed. */
  private record Plan(Map<String, ActiveListener> next, Map<String, ActiveListener> fresh) {}

  /** Compiles a listener set without changing anything; throws what apply would refuse. */
  public synchronized void check(List<Listener> configs) {
    plan(configs);
  }

  private Plan plan(List<Listener> configs) {
    Map<String, ActiveListener> next = new LinkedHashMap<>();
    Map<String, ActiveListener> fresh = new HashMap<>();
    for (Listener l : configs) {
      if (l.getName().isEmpty()) {
        throw new ConfigRejectedException("a listener needs a name");
      }
      ActiveListener current = active.get(l.getName());
      ActiveListener chosen;
      if (current != null && current.config().equals(l)) {
        chosen = current;
      } else {
        chosen =
            new ActiveListener(
                l, clusters, transport, stats, this::listenerFor, node, serverFailing, secrets);
        fresh.put(l.getName(), chosen);
      }
      if (next.put(l.getName(), chosen) != null) {
        throw new ConfigRejectedException("duplicate listener name '" + l.getName() + "'");
      }
    }
    for (ActiveListener l : fresh.values()) {
      for (var hcm : l.connectionManagers()) {
        var rc = hcm.rdsName() == null ? null : routeConfigs.get(hcm.rdsName());
        if (rc != null) {
          hcm.use(hcm.compile(rc));
        }
      }
    }
    return new Plan(next, fresh);
  }

  public synchronized void apply(List<Listener> configs) {
    Plan plan = plan(configs);
    Map<String, ActiveListener> next = new LinkedHashMap<>(plan.next());
    Map<String, ActiveListener> fresh = new HashMap<>(plan.fresh());
    warming.keySet().retainAll(next.keySet());
    for (var e : plan.fresh().entrySet()) {
      ActiveListener l = e.getValue();
      if (l.ready()) {
        warming.remove(e.getKey());
        continue;
      }
      // Warms until its secrets arrive; the listener of that name in force keeps serving.
      fresh.remove(e.getKey());
      ActiveListener current = active.get(e.getKey());
      if (current != null) {
        next.put(e.getKey(), current);
      } else {
        next.remove(e.getKey());
      }
      warming.put(e.getKey(), l);
      l.onTlsChange(() -> promote(e.getKey(), l));
      LOG.info("listener " + e.getKey() + " warming: waiting for secrets " + l.awaitedSecrets());
    }
    install(fresh, next);
  }

  private volatile Runnable onWarmed = () -> {};

  /**
   * Called (under this manager's lock: hand it off) each time a warming listener takes its place.
   */
  public void onWarmed(Runnable callback) {
    this.onWarmed = callback;
  }

  /** A warming listener whose secrets arrived (or timed out) takes its place. */
  private synchronized void promote(String name, ActiveListener l) {
    if (warming.get(name) != l || !l.ready()) {
      return;
    }
    warming.remove(name);
    Map<String, ActiveListener> next = new LinkedHashMap<>(active);
    next.put(name, l);
    LOG.info("listener " + name + " warmed: its secrets are in force");
    try {
      install(Map.of(name, l), next);
    } catch (ConfigRejectedException e) {
      LOG.warning(e.getMessage());
    }
    onWarmed.run();
  }

  /** The listeners warming for their secrets. */
  public synchronized Collection<ActiveListener> warming() {
    return List.copyOf(warming.values());
  }

  private void install(
      Map<String, ActiveListener> fresh,
      Map<String, ActiveListener>
          next) { // A changed listener on the same socket takes the socket over; connections
    // already accepted
    // keep the chains they were given and drain on their own. Others release their address
    // before the new listener binds it.
    for (var e : fresh.entrySet()) {
      ActiveListener old = active.get(e.getKey());
      if (old != null) {
        if (e.getValue().canAdopt(old)) {
          e.getValue().adopt(old);
        } else {
          old.close();
        }
        retire(old);
      }
    }
    for (var e : fresh.entrySet()) {
      if (e.getValue().isBound()) {
        continue;
      }
      try {
        e.getValue().bind(transport);
        LOG.info(
            "listener "
                + e.getKey()
                + " on "
                + e.getValue().address()
                + (e.getValue().bindsToPort() ? "" : " (not bound: reached by hand-off)"));
      } catch (Exception ex) {
        throw new ConfigRejectedException(
            "listener "
                + e.getKey()
                + ": cannot bind "
                + e.getValue().address()
                + ": "
                + ex.getMessage(),
            ex);
      }
    }
    for (var e : active.entrySet()) {
      if (!next.containsKey(e.getKey())) {
        e.getValue().close();
        retire(e.getValue());
      }
    }
    active.clear();
    active.putAll(next);
    Map<String, ActiveListener> index = new HashMap<>();
    for (ActiveListener l : next.values()) {
      index.put(l.address().getAddress().getHostAddress() + ":" + l.address().getPort(), l);
    }
    byAddress = Map.copyOf(index);
  }

  /**
   * Replaces the route configurations RDS delivered: every connection manager that uses one of them
   * gets the new one, all compiled before any changes (a bad one refuses the whole update).
   * Listeners stay as they are; requests in flight finish on the routes they started with.
   */
  public synchronized void applyRoutes(
      Map<String, io.envoyproxy.envoy.config.route.v3.RouteConfiguration> configs) {
    Map<HcmConfig, HcmConfig.Routes> compiled = new HashMap<>();
    for (ActiveListener l : active.values()) {
      for (var hcm : l.connectionManagers()) {
        var rc = hcm.rdsName() == null ? null : configs.get(hcm.rdsName());
        if (rc != null && !rc.equals(routeConfigs.get(hcm.rdsName()))) {
          compiled.put(hcm, hcm.compile(rc));
        }
      }
    }
    compiled.forEach(HcmConfig::use);
    routeConfigs = Map.copyOf(configs);
  }

  /** The route configurations in force from RDS. */
  public synchronized Map<String, io.envoyproxy.envoy.config.route.v3.RouteConfiguration>
      routeConfigs() {
    return routeConfigs;
  }

  /**
   * Envoy's hand-off for use_original_dst: the listener whose address is the original destination,
   * else one on the wildcard address with its port; null when none but the capturing one.
   */
  ActiveListener listenerFor(java.net.InetSocketAddress dst, ActiveListener capturing) {
    Map<String, ActiveListener> snapshot = byAddress;
    ActiveListener exact = snapshot.get(dst.getAddress().getHostAddress() + ":" + dst.getPort());
    if (exact != null && exact != capturing) {
      return exact;
    }
    ActiveListener wildcard = snapshot.get("0.0.0.0:" + dst.getPort());
    return wildcard != capturing ? wildcard : null;
  }

  /**
   * Envoy's /drain_listeners: the chosen listeners drain their HTTP connections; without graceful
   * they stop accepting now, with it after the drain time. Connections already open carry on.
   */
  public synchronized void drain(
      boolean inboundOnly,
      boolean graceful,
      java.time.Duration drainTime,
      boolean immediate,
      java.util.concurrent.ScheduledExecutorService timer) {
    dev.mesh.proxy.http.hcm.DrainState state =
        dev.mesh.proxy.http.hcm.DrainState.start(drainTime, immediate);
    List<String> draining = new java.util.ArrayList<>();
    for (ActiveListener l : active.values()) {
      if (!inboundOnly
          || l.config().getTrafficDirection()
              == io.envoyproxy.envoy.config.core.v3.TrafficDirection.INBOUND) {
        l.startDraining(state);
        draining.add(l.config().getName());
      }
    }
    Runnable stopAccepting =
        () -> {
          synchronized (this) {
            apply(
                active.values().stream()
                    .map(ActiveListener::config)
                    .filter(c -> !draining.contains(c.getName()))
                    .toList());
          }
        };
    if (graceful) {
      timer.schedule(
          stopAccepting, drainTime.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } else {
      stopAccepting.run();
    }
  }

  public synchronized void closeAll() {
    warming.clear();
    active.values().forEach(ActiveListener::close);
    active.clear();
    byAddress = Map.of();
  }
}
