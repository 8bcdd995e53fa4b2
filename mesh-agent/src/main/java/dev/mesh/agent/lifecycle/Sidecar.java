package dev.mesh.agent.lifecycle;

import dev.mesh.agent.bootstrap.BootstrapWriter;
import dev.mesh.agent.config.AgentSettings;
import dev.mesh.agent.config.IdentitySettings;
import dev.mesh.agent.identity.WorkloadIdentity;
import dev.mesh.agent.proxy.ProxyReadiness;
import dev.mesh.agent.proxy.ProxySupervisor;
import dev.mesh.agent.sds.SdsServer;
import dev.mesh.agent.status.StatusServer;
import dev.mesh.api.SpiffeId;
import dev.mesh.proxy.config.BootstrapLoader;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.server.ProxyServer;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.logging.Logger;
import org.springframework.context.SmartLifecycle;

/**
 * The sidecar's life. Start: when the pod has identity material, get its certificate and serve it
 * over SDS; write the bootstrap, start the proxy in this JVM, open the status port and 15021. Stop
 * (SIGTERM): drain the inbound listeners while outbound keeps working, wait the termination drain
 * duration (or, with EXIT_ON_ZERO_ACTIVE_CONNECTIONS, until no connection is left), then close the
 * proxy. {@link #quit()} ends both at once.
 */
public final class Sidecar implements SmartLifecycle {
  private static final Logger LOG = Logger.getLogger(Sidecar.class.getName());

  private final AgentSettings settings;
  private ProxySupervisor proxy;
  private WorkloadIdentity identity;
  private SdsServer sds;
  private StatusServer status;
  private volatile boolean running;
  private volatile boolean quitting;

  public Sidecar(AgentSettings settings) {
    this.settings = settings;
  }

  @Override
  public void start() {
    startIdentity();
    Path file = BootstrapWriter.write(settings);
    Bootstrap bootstrap;
    try {
      // Read back as the proxy reads any bootstrap: the file users see is what runs, checked
      // against the fields the proxy implements.
      bootstrap = BootstrapLoader.load(file, null);
    } catch (ConfigRejectedException e) {
      throw new IllegalStateException(
          "the proxy refuses the bootstrap " + file + ": " + e.getMessage());
    }
    // Envoy's --drain-time-s and --drain-strategy immediate, as Istio's agent starts Envoy.
    Duration drainTime =
        Duration.ofSeconds(Math.max(1, settings.terminationDrainDuration().toSeconds()));
    proxy =
        new ProxySupervisor(
            () -> new ProxyServer(bootstrap, settings.concurrency(), drainTime, true), this::quit);
    proxy.start();
    status =
        new StatusServer(
            proxy,
            settings.appProbers(),
            settings.prometheusTarget(),
            settings.instanceIp(),
            this::quit,
            settings.statusPort());
    status.start();
    running = true;
    LOG.info(
        "sidecar "
            + settings.nodeId()
            + ": proxy starting in-process with "
            + file
            + " ("
            + settings.concurrency()
            + " workers), pilot at "
            + settings.discoveryAddress());
  }

  @Override
  public void stop() {
    if (!running) {
      return;
    }
    running = false;
    if (!quitting) {
      drain();
    }
    proxy.stop();
    status.close();
    if (sds != null) {
      sds.close();
    }
    if (identity != null) {
      identity.close();
    }
    LOG.info("sidecar stopped");
  }

  /**
   * The certificate and SDS before the proxy, so that its first SDS request finds the server. Only
   * with identity material (a token or CA_ADDR): without either, the local mesh runs as before.
   */
  private void startIdentity() {
    IdentitySettings id = settings.identity();
    if (!id.enabled()) {
      LOG.info(
          "workload identity off: no token at "
              + id.tokenPath()
              + " and no CA_ADDR; no certificate, no SDS (the proxy's TLS comes only from files)");
      return;
    }
    if (id.caAddress() == null) {
      // The local mesh on a real API server: tokens are projected, but pilot serves its Unix
      // socket and no CA.
      LOG.info(
          "workload identity off: a token at "
              + id.tokenPath()
              + " but no CA (CA_ADDR unset, and the discovery address "
              + settings.discoveryAddress()
              + " names no host)");
      return;
    }
    identity =
        new WorkloadIdentity(
            id, new SpiffeId(id.trustDomain(), settings.podNamespace(), settings.serviceAccount()));
    sds = new SdsServer(id.sdsSocket(), identity);
    try {
      sds.start();
    } catch (java.io.UncheckedIOException e) {
      // No socket (its directory not writable: the workload-socket volume missing) leaves the
      // pod without mTLS, not without its proxy.
      LOG.severe(e.getMessage() + "; the proxy gets no certificate");
      identity.close();
      identity = null;
      sds = null;
      return;
    }
    identity.start();
  }

  private void drain() {
    Optional<ProxyServer> server = proxy.current();
    if (server.isEmpty()) {
      LOG.info("no proxy running: nothing to drain");
      return;
    }
    Duration wait = settings.terminationDrainDuration();
    LOG.info("draining inbound listeners for up to " + wait.toMillis() + " ms");
    server.get().drainListeners(true, true);
    long deadline = System.nanoTime() + wait.toNanos();
    while (System.nanoTime() < deadline) {
      if (settings.exitOnZeroActiveConnections()
          && ProxyReadiness.activeConnections(server.get()) == 0) {
        LOG.info("no active connections left: ending the drain");
        return;
      }
      try {
        Thread.sleep(Math.min(200, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * POST /quitquitquit on 15020 or on the proxy's admin: the proxy and the agent end now, without a
   * drain (a Job is done), exit 0.
   */
  public void quit() {
    quitting = true;
    // From its own thread: exit runs the context's stop, which waits for the proxy's thread.
    new Thread(() -> System.exit(0), "mesh-agent-quit").start();
  }

  @Override
  public boolean isRunning() {
    return running;
  }
}
