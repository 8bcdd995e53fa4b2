package dev.mesh.agent.proxy;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * Runs the proxy as a child process and keeps it running: when it dies it is started again after a
 * backoff (1 s, doubling to 30 s, back to 1 s once it has stayed up a minute). Its output is the
 * agent's, as in Istio's istio-proxy container.
 */
public final class ProxySupervisor {
  private static final Logger LOG = Logger.getLogger(ProxySupervisor.class.getName());
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
  private static final Duration STABLE = Duration.ofMinutes(1);

  private final List<String> command;
  private final AtomicInteger restarts = new AtomicInteger();
  private volatile Process process;
  private volatile boolean stopping;
  private Thread watcher;

  public ProxySupervisor(List<String> command) {
    this.command = List.copyOf(command);
  }

  public synchronized void start() {
    launch();
    watcher = new Thread(this::watch, "mesh-agent-proxy-watch");
    watcher.setDaemon(true);
    watcher.start();
  }

  private synchronized void launch() {
    try {
      process = new ProcessBuilder(command).inheritIO().start();
      LOG.info("proxy started, pid " + process.pid());
    } catch (IOException e) {
      process = null;
      LOG.warning("proxy did not start: " + e.getMessage());
    }
  }

  private void watch() {
    Duration backoff = FIRST_BACKOFF;
    while (!stopping) {
      Process p = process;
      long started = System.nanoTime();
      if (p != null) {
        try {
          int code = p.waitFor();
          if (stopping) {
            return;
          }
          LOG.warning(
              "proxy exited with code "
                  + code
                  + "; starting it again in "
                  + backoff.toMillis()
                  + " ms");
        } catch (InterruptedException e) {
          return;
        }
      }
      if (System.nanoTime() - started > STABLE.toNanos()) {
        backoff = FIRST_BACKOFF;
      }
      try {
        Thread.sleep(backoff.toMillis()); // the backoff itself, not a synchronisation
      } catch (InterruptedException e) {
        return;
      }
      if (stopping) {
        return;
      }
      restarts.incrementAndGet();
      launch();
      backoff =
          backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0
              ? MAX_BACKOFF
              : backoff.multipliedBy(2);
    }
  }

  public boolean running() {
    Process p = process;
    return p != null && p.isAlive();
  }

  public int restarts() {
    return restarts.get();
  }

  public long pid() {
    Process p = process;
    return p == null ? -1 : p.pid();
  }

  /** Stops the proxy: SIGTERM, then SIGKILL after {@code grace}. It is not started again. */
  public void stop(Duration grace) {
    stopping = true;
    Process p = process;
    if (watcher != null) {
      watcher.interrupt();
    }
    if (p == null || !p.isAlive()) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.warning("proxy did not stop in " + grace.toMillis() + " ms; killing it");
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
