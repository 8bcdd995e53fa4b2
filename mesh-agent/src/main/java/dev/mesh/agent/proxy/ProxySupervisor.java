package dev.mesh.agent.proxy;

import dev.mesh.proxy.server.ProxyServer;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Runs the proxy in the agent's own JVM and keeps it running. A server whose start fails (a port it
 * must bind is taken, say) or that stops when nobody asked it to is closed, its event loops,
 * threads and sockets released, and a new one is started after a backoff: 1 s, doubling to 30 s,
 * back to 1 s once a server has stayed up a minute. A server asked to end through its own admin
 * (POST /quitquitquit on 15000) ends the sidecar instead, as Envoy exiting ends Istio's agent.
 */
public final class ProxySupervisor {
  private static final Logger LOG = Logger.getLogger(ProxySupervisor.class.getName());
  private static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
  private static final Duration STABLE = Duration.ofMinutes(1);
  private static final Duration RELEASE = Duration.ofSeconds(10);
  private static final long READY_POLL_MILLIS = 20;

  private final Supplier<ProxyServer> servers;
  private final Runnable onQuit;
  private final AtomicInteger restarts = new AtomicInteger();
  private final Object pause = new Object();
  private volatile ProxyServer current;
  private volatile boolean serving;
  private volatile boolean stopping;
  private Thread thread;

  /**
   * @param servers makes a new, unstarted server (each attempt gets its own)
   * @param onQuit what ends the sidecar when the proxy's admin was asked to quit
   */
  public ProxySupervisor(Supplier<ProxyServer> servers, Runnable onQuit) {
    this.servers = servers;
    this.onQuit = onQuit;
  }

  public synchronized void start() {
    thread = new Thread(this::run, "mesh-agent-proxy");
    thread.setDaemon(true); // the application's keep-alive thread holds the JVM, not this one
    thread.start();
  }

  private void run() {
    Duration backoff = FIRST_BACKOFF;
    while (!stopping) {
      long started = System.nanoTime();
      String failure = attempt();
      if (failure == null || stopping) {
        return;
      }
      if (System.nanoTime() - started > STABLE.toNanos()) {
        backoff = FIRST_BACKOFF;
      }
      LOG.warning("proxy " + failure + "; starting it again in " + backoff.toMillis() + " ms");
      if (!pause(backoff)) {
        return;
      }
      restarts.incrementAndGet();
      backoff =
          backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0
              ? MAX_BACKOFF
              : backoff.multipliedBy(2);
    }
  }

  /**
   * One server's life: started, served until it stops, released. Returns why it failed, or null
   * when the sidecar is stopping or the proxy was asked to quit.
   */
  private String attempt() {
    ProxyServer server;
    try {
      server = servers.get();
    } catch (RuntimeException e) {
      return "could not be made: " + oneLine(e);
    }
    current = server;
    try {
      server.start();
      serving = true;
      LOG.info("proxy started" + (restarts.get() > 0 ? " (restart " + restarts.get() + ")" : ""));
      watchReadiness(server);
      server.awaitStop();
      serving = false;
      if (stopping) {
        return null;
      }
      if (server.quitRequested()) {
        LOG.info("proxy asked to quit through its admin (/quitquitquit): ending the sidecar");
        onQuit.run();
        return null;
      }
      return "stopped on its own";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (Exception e) { // a failed bind may surface as Netty's undeclared IOException
      return stopping ? null : "failed to start: " + oneLine(e);
    } finally {
      serving = false;
      current = null;
      release(server);
    }
  }

  /** Closes a server and waits until its threads have ended, so it holds nothing any more. */
  private static void release(ProxyServer server) {
    server.close();
    try {
      if (!server.awaitTermination(RELEASE)) {
        LOG.warning("proxy's threads had not ended " + RELEASE.toSeconds() + " s after it closed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Logs the moment the new server is first ready (what 15021 reports), and how long after the
   * process started: the sidecar's start-up time, as a user sees it. The watch ends with the
   * server.
   */
  private void watchReadiness(ProxyServer server) {
    Thread watch =
        new Thread(
            () -> {
              while (current == server && !stopping) {
                if (ProxyReadiness.ready(server)) {
                  long ms =
                      ProcessHandle.current()
                          .info()
                          .startInstant()
                          .map(t -> Duration.between(t, Instant.now()).toMillis())
                          .orElse(-1L);
                  LOG.info(
                      "proxy ready: clusters and listeners from pilot in force, "
                          + ms
                          + " ms after the process started");
                  return;
                }
                try {
                  Thread.sleep(READY_POLL_MILLIS); // the watch's poll period
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "mesh-agent-proxy-ready");
    watch.setDaemon(true);
    watch.start();
  }

  /** Waits out a backoff; false if the sidecar began to stop meanwhile. */
  private boolean pause(Duration d) {
    long deadline = System.nanoTime() + d.toNanos();
    synchronized (pause) {
      while (!stopping) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          return true;
        }
        try {
          pause.wait(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return false;
  }

  /** The server now running, if one is (none between a failure and its restart). */
  public Optional<ProxyServer> current() {
    return serving ? Optional.ofNullable(current) : Optional.empty();
  }

  /** Whether a server is started and has not stopped. */
  public boolean running() {
    return current().isPresent();
  }

  /** How many times a server was started again after one failed. */
  public int restarts() {
    return restarts.get();
  }

  /**
   * Stops the proxy for good: closes the running server (connections still open are closed) and
   * returns once it has released everything. It is not started again.
   */
  public void stop() {
    stopping = true;
    synchronized (pause) {
      pause.notifyAll();
    }
    ProxyServer s = current;
    if (s != null) {
      s.close();
    }
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t != null && t != Thread.currentThread()) {
      try {
        t.join(RELEASE.toMillis() + 5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** An exception as one line: its message and its causes' messages, never a stack trace. */
  static String oneLine(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip();
      if (b.indexOf(m) < 0) {
        b.append(b.length() == 0 ? "" : ": ").append(m);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return b.toString().replace('\n', ' ');
  }
}
