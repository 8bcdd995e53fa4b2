package dev.mesh.agent.status;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import tools.jackson.databind.JsonNode;

/**
 * The app's own probes, which the injector moved to the agent (ISTIO_KUBE_APP_PROBERS, keyed by
 * {@code /app-health/<container>/livez|readyz}): httpGet and tcpSocket, run against the pod's
 * address as the kubelet would have run them.
 */
final class AppProbes {
  /** What a probe found: the HTTP status to answer with, and a word for the body. */
  record Outcome(int status, String body) {}

  private final JsonNode probers;
  private final String podIp;
  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  AppProbes(JsonNode probers, String podIp) {
    this.probers = probers;
    this.podIp = podIp;
  }

  Outcome run(String path) {
    JsonNode probe = probers == null ? null : probers.get(path);
    if (probe == null) {
      return new Outcome(404, "no probe for " + path + "\n");
    }
    Duration timeout = Duration.ofSeconds(Math.max(1, probe.path("timeoutSeconds").asInt(1)));
    if (probe.has("httpGet")) {
      return httpGet(probe.get("httpGet"), timeout);
    }
    if (probe.has("tcpSocket")) {
      return tcpSocket(probe.get("tcpSocket"), timeout);
    }
    return new Outcome(500, "probe kind not supported (httpGet and tcpSocket are)\n");
  }

  private Outcome httpGet(JsonNode get, Duration timeout) {
    String scheme = get.path("scheme").asString("HTTP").toLowerCase(java.util.Locale.ROOT);
    String host = get.path("host").asString(podIp);
    String path = get.path("path").asString("/");
    URI uri = URI.create(scheme + "://" + hostPort(host, get.path("port").asInt()) + path);
    HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(timeout).GET();
    for (JsonNode h : get.path("httpHeaders")) {
      req.header(h.path("name").asString(), h.path("value").asString());
    }
    try {
      int status = http.send(req.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
      // The kubelet counts 200-399 as success.
      return status >= 200 && status < 400
          ? new Outcome(200, "ok\n")
          : new Outcome(status, "app answered " + status + "\n");
    } catch (IOException e) {
      return new Outcome(500, "app did not answer: " + e.getMessage() + "\n");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome(500, "interrupted\n");
    }
  }

  private Outcome tcpSocket(JsonNode tcp, Duration timeout) {
    String host = tcp.path("host").asString(podIp);
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, tcp.path("port").asInt()), (int) timeout.toMillis());
      return new Outcome(200, "ok\n");
    } catch (IOException e) {
      return new Outcome(500, "app port closed: " + e.getMessage() + "\n");
    }
  }

  private static String hostPort(String host, int port) {
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
  }
}
