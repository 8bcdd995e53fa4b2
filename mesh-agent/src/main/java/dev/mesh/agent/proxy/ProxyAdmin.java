package dev.mesh.agent.proxy;

import dev.mesh.api.MeshPorts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The proxy's admin endpoint on 127.0.0.1:15000, as the agent uses it. */
public final class ProxyAdmin {
  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(TIMEOUT).version(HttpClient.Version.HTTP_1_1).build();
  private final String base;

  public ProxyAdmin() {
    this("http://127.0.0.1:" + MeshPorts.PROXY_ADMIN);
  }

  ProxyAdmin(String base) {
    this.base = base;
  }

  /**
   * Ready as Istio's agent means it: the proxy is LIVE and has applied clusters and listeners from
   * pilot at least once (not merely given up waiting for them).
   */
  public boolean ready() {
    String state = get("/ready");
    if (state == null || !state.strip().equals("LIVE")) {
      return false;
    }
    String stats = get("/stats");
    return stats != null
        && counter(stats, "cluster_manager.cds.update_success") > 0
        && counter(stats, "listener_manager.lds.update_success") > 0;
  }

  /** The sum of every downstream_cx_active gauge: connections still open to the proxy. */
  public long activeConnections() {
    String stats = get("/stats");
    if (stats == null) {
      return 0;
    }
    long sum = 0;
    for (String line : stats.lines().toList()) {
      int colon = line.lastIndexOf(": ");
      if (colon > 0 && line.substring(0, colon).endsWith("downstream_cx_active")) {
        sum += parse(line.substring(colon + 2));
      }
    }
    return sum;
  }

  /** Inbound listeners stop taking new work gracefully; outbound keeps working (Istio's drain). */
  public boolean drainInbound() {
    return post("/drain_listeners?inboundonly&graceful");
  }

  public String prometheus() {
    String text = get("/stats/prometheus");
    return text == null ? "" : text;
  }

  static long counter(String stats, String name) {
    for (String line : stats.lines().toList()) {
      if (line.startsWith(name + ": ")) {
        return parse(line.substring(name.length() + 2));
      }
    }
    return 0;
  }

  private static long parse(String v) {
    try {
      return Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** The body of a 200 answer, or null when the proxy is not there or says otherwise. */
  String get(String path) {
    try {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(base + path)).timeout(TIMEOUT).GET().build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? r.body() : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  private boolean post(String path) {
    try {
      return http.send(
                  HttpRequest.newBuilder(URI.create(base + path))
                      .timeout(TIMEOUT)
                      .POST(HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.discarding())
              .statusCode()
          == 200;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
