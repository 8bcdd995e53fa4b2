package dev.mesh.agent.lifecycle;

import dev.mesh.agent.bootstrap.BootstrapWriter;
import dev.mesh.agent.config.AgentSettings;
import dev.mesh.agent.proxy.ProxyAdmin;
import dev.mesh.agent.proxy.ProxyCommand;
import dev.mesh.agent.proxy.ProxySupervisor;
import dev.mesh.agent.status.StatusServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.logging.Logger;
import org.springframework.context.SmartLifecycle;

/**
 * The sidecar's life. Start: write the bootstrap, start the proxy, open 15020 and 15021. Stop
 * (SIGTERM): drain the inbound listeners while outbound keeps working, wait the termination drain
 * duration (or, with EXIT_ON_ZERO_ACTIVE_CONNECTIONS, until no connection is left), then stop the
 * proxy. {@link #quit()} ends both at once.
 */
public final class Sidecar implements SmartLifecycle {
  private static final Logger LOG = Logger.getLogger(Sidecar.class.getName());

  private final AgentSettings settings;
  private final ProxyAdmin admin = new ProxyAdmin();
  private ProxySupervisor proxy;
  private StatusServer status;
  private volatile boolean running;
  private volatile boolean quitting;

  public Sidecar(AgentSettings settings) {
    this.settings = settings;
  }

  @Override
  public void start() {
    Path bootstrap = BootstrapWriter.write(settings);
    proxy = new ProxySupervisor(ProxyCommand.of(settings, bootstrap, isRoot()));
    proxy.start();
    status =
        new StatusServer(
            admin,
            proxy,
            settings.appProbers(),
            settings.prometheusTarget(),
            settings.instanceIp(),
            this::quit);
    status.start();
    running = true;
    LOG.info(
        "sidecar "
            + settings.nodeId()
            + ": proxy started with "
            + bootstrap
            + ", pilot at "
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
    proxy.stop(Duration.ofSeconds(5));
    status.close();
    LOG.info("sidecar stopped");
  }

  private void drain() {
    Duration wait = settings.terminationDrainDuration();
    LOG.info("draining inbound listeners for up to " + wait.toMillis() + " ms");
    admin.drainInbound();
    long deadline = System.nanoTime() + wait.toNanos();
    while (System.nanoTime() < deadline) {
      if (settings.exitOnZeroActiveConnections() && admin.activeConnections() == 0) {
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

  /** POST /quitquitquit: the proxy and the agent end now, without a drain (a Job is done). */
  public void quit() {
    quitting = true;
    System.exit(0); // closes the context: stop() ends the proxy
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  private static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }
}
