package dev.mesh.proxy.cluster;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.core.v3.HealthCheck;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Envoy's active HTTP health checking: every interval, a GET of the configured path to each host;
 * 2xx passes (or the expected statuses). A host fails after unhealthy_threshold failures in a row
 * and recovers after healthy_threshold passes; at start one pass is enough, as in Envoy. Checks run
 * on their own threads, never on the proxy's event loops.
 */
final class HealthChecker implements AutoCloseable {
  private static final ExecutorService CHECKS =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "mesh-proxy-health-check");
            t.setDaemon(true);
            return t;
          });

  private final String cluster;
  private final HealthCheck config;
  private final Duration timeout;
  private final Supplier<List<Endpoint>> hosts;
  private final Stats.Counter attempts;
  private final Stats.Counter successes;
  private final Stats.Counter failures;
  private final ScheduledFuture<?> schedule;

  HealthChecker(
      String cluster,
      HealthCheck config,
      Supplier<List<Endpoint>> hosts,
      Stats stats,
      ScheduledExecutorService timer) {
    if (!config.hasHttpHealthCheck()) {
      throw new ConfigRejectedException(
          "cluster " + cluster + ": only http_health_check is supported");
    }
    this.cluster = cluster;
    this.config = config;
    this.hosts = hosts;
    this.timeout = duration(config.getTimeout(), Duration.ofSeconds(1));
    Stats.Scope s = Stats.Scope.cluster(cluster);
    this.attempts = stats.counter(s, "health_check.attempt");
    this.successes = stats.counter(s, "health_check.success");
    this.failures = stats.counter(s, "health_check.failure");
    long interval = duration(config.getInterval(), Duration.ofSeconds(5)).toMillis();
    this.schedule =
        timer.scheduleWithFixedDelay(
            this::checkAll, 0, Math.max(1, interval), TimeUnit.MILLISECONDS);
  }

  private void checkAll() {
    for (Endpoint e : hosts.get()) {
      CHECKS.execute(() -> record(e, check(e)));
    }
  }

  private void record(Endpoint e, boolean passed) {
    attempts.inc();
    (passed ? successes : failures).inc();
    int healthyThreshold =
        config.hasHealthyThreshold() ? config.getHealthyThreshold().getValue() : 1;
    int unhealthyThreshold =
        config.hasUnhealthyThreshold() ? config.getUnhealthyThreshold().getValue() : 1;
    synchronized (e) {
      if (passed) {
        e.hcFailuresInARow = 0;
        e.hcPassesInARow++;
        if (!e.activeHealthy && (!e.hcEverPassed || e.hcPassesInARow >= healthyThreshold)) {
          e.activeHealthy = true;
        }
        e.hcEverPassed = true;
      } else {
        e.hcPassesInARow = 0;
        e.hcFailuresInARow++;
        if (e.activeHealthy && e.hcFailuresInARow >= unhealthyThreshold) {
          e.activeHealthy = false;
        }
      }
    }
  }

  private boolean check(Endpoint e) {
    var http = config.getHttpHealthCheck();
    // Envoy's Host for a check: the configured one, else the endpoint's hostname, else the cluster.
    String host =
        !http.getHost().isEmpty()
            ? http.getHost()
            : !e.hostname().isEmpty() ? e.hostname() : cluster;
    try (Socket s = new Socket()) {
      s.connect(e.address(), (int) timeout.toMillis());
      s.setSoTimeout((int) timeout.toMillis());
      s.getOutputStream()
          .write(
              ("GET "
                      + http.getPath()
                      + " HTTP/1.1\r\nHost: "
                      + host
                      + "\r\nUser-Agent: Envoy/HC\r\nConnection: close\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      int status = status(s.getInputStream());
      if (http.getExpectedStatusesCount() == 0) {
        return status >= 200 && status < 300;
      }
      for (var range : http.getExpectedStatusesList()) {
        if (status >= range.getStart() && status < range.getEnd()) {
          return true;
        }
      }
      return false;
    } catch (IOException ex) {
      return false;
    }
  }

  private static int status(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n' && line.length() < 200) {
      line.append((char) c);
    }
    String[] parts = line.toString().split(" ");
    try {
      return parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** A zero duration here means unset: Envoy requires a positive timeout and interval. */
  private static Duration duration(com.google.protobuf.Duration d, Duration otherwise) {
    Duration value = ProtoDurations.of(d);
    return value.isZero() ? otherwise : value;
  }

  @Override
  public void close() {
    schedule.cancel(false);
  }
}
