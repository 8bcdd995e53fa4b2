package dev.mesh.agent.status;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.mesh.agent.proxy.ProxyReadiness;
import dev.mesh.agent.proxy.ProxySupervisor;
import dev.mesh.api.MeshPorts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;
import tools.jackson.databind.JsonNode;

/**
 * The agent's ports. 15021: {@code /healthz/ready}, the sidecar's readiness. The status port (15020
 * unless the pod's status.sidecar.istio.io/port or ProxyConfig's statusPort says otherwise; 0:
 * none): the same, {@code /stats/prometheus} (the proxy's metrics, the agent's and the app's
 * merged, as Istio's metrics merging does), {@code /app-health/<container>/livez|readyz} (the app's
 * own probes), {@code /app-lifecycle/<container>/prestopz|poststartz} (its httpGet and tcpSocket
 * hooks) and {@code POST /quitquitquit} (end agent and proxy now, for Jobs).
 */
public final class StatusServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(StatusServer.class.getName());

  private final ProxySupervisor proxy;
  private final AppProbes probes;
  private final JsonNode appScrape;
  private final Runnable quit;
  private final int statusPort;
  private final ExecutorService threads = Executors.newFixedThreadPool(2, daemon());
  private HttpServer status;
  private HttpServer health;

  /**
   * @param statusPort where the status server listens (Istio's ProxyConfig statusPort, 15020 by
   *     default); 0: none, only 15021
   */
  public StatusServer(
      ProxySupervisor proxy,
      JsonNode appProbers,
      JsonNode appScrape,
      String podIp,
      Runnable quit,
      int statusPort) {
    this.statusPort = statusPort;
    this.proxy = proxy;
    this.probes = new AppProbes(appProbers, podIp);
    this.appScrape = appScrape;
    this.quit = quit;
  }

  public void start() {
    try {
      health = HttpServer.create(new InetSocketAddress(MeshPorts.AGENT_HEALTH), 64);
      health.createContext("/", this::healthz);
      health.setExecutor(threads);
      health.start();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen on the agent's health port " + MeshPorts.AGENT_HEALTH, e);
    }
    if (statusPort == 0) {
      LOG.info("status port 0: no status server (metrics merging, app probes, quitquitquit)");
      return;
    }
    try {
      status = HttpServer.create(new InetSocketAddress(statusPort), 64);
      status.createContext("/", this::statusPort);
      status.setExecutor(threads);
      status.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on the agent's status port " + statusPort, e);
    }
  }

  private void healthz(HttpExchange ex) throws IOException {
    if (ex.getRequestURI().getPath().equals("/healthz/ready")) {
      boolean ready = proxy.current().map(ProxyReadiness::ready).orElse(false);
      reply(ex, ready ? 200 : 503, ready ? "ready\n" : "proxy not ready\n");
    } else {
      reply(ex, 404, "not found\n");
    }
  }

  private void statusPort(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    if (path.equals("/healthz/ready")) {
      healthz(ex);
    } else if (path.equals("/stats/prometheus")) {
      reply(ex, 200, metrics());
    } else if (path.startsWith("/app-health/") || path.startsWith("/app-lifecycle/")) {
      AppProbes.Outcome o = probes.run(path);
      reply(ex, o.status(), o.body());
    } else if (path.equals("/quitquitquit")) {
      if (!ex.getRequestMethod().equals("POST")) {
        reply(ex, 405, "POST only\n");
        return;
      }
      reply(ex, 200, "OK\n");
      LOG.info("quitquitquit: stopping the proxy and the agent now");
      quit.run();
    } else {
      reply(ex, 404, "not found\n");
    }
  }

  private String metrics() {
    // The proxy's /stats/prometheus text, from the server itself.
    StringBuilder b =
        new StringBuilder(proxy.current().map(s -> s.stats().prometheus()).orElse(""));
    b.append("# TYPE istio_agent_proxy_restarts_total counter\n")
        .append("istio_agent_proxy_restarts_total ")
        .append(proxy.restarts())
        .append('\n')
        .append("# TYPE istio_agent_proxy_up gauge\n")
        .append("istio_agent_proxy_up ")
        .append(proxy.running() ? 1 : 0)
        .append('\n');
    if (appScrape != null && !"false".equals(appScrape.path("scrape").asString("true"))) {
      String port = appScrape.path("port").asString("80");
      String p = appScrape.path("path").asString("/metrics");
      try {
        HttpResponse<String> r =
            AppHttpClient.get()
                .send(
                    HttpRequest.newBuilder(URI.create("http://localhost:" + port + p))
                        .timeout(Duration.ofSeconds(5))
                        .GET()
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          b.append(r.body());
          if (!r.body().endsWith("\n")) {
            b.append('\n');
          }
        } else {
          LOG.warning("app metrics at :" + port + p + " answered " + r.statusCode());
        }
      } catch (IOException e) {
        LOG.warning("app metrics at :" + port + p + " not reachable: " + e.getMessage());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return b.toString();
  }

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    ex.sendResponseHeaders(status, bytes.length);
    try (var out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  private static java.util.concurrent.ThreadFactory daemon() {
    return r -> {
      Thread t = new Thread(r, "mesh-agent-http");
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public void close() {
    if (status != null) {
      status.stop(0);
    }
    if (health != null) {
      health.stop(0);
    }
    threads.shutdownNow();
  }
}
