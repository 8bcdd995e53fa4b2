package dev.mesh.agent.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.agent.proxy.ProxySupervisor;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The status server listens where it is configured: a real server, asked by a real HTTP client. Its
 * proxy is never started (a supervisor with nothing running), which is what the status port
 * reports.
 */
class StatusPortTest {
  static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  static ProxySupervisor noProxy() {
    return new ProxySupervisor(
        () -> {
          throw new AssertionError("the proxy is not started in this test");
        },
        () -> {});
  }

  static HttpResponse<String> get(int port, String path) throws Exception {
    return CLIENT.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void theConfiguredStatusPortIsTheOneThatAnswers() throws Exception {
    int port = freePort();
    try (StatusServer server =
        new StatusServer(noProxy(), null, null, "127.0.0.1", () -> {}, port)) {
      server.start();
      HttpResponse<String> metrics = get(port, "/stats/prometheus");
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.body()).contains("istio_agent_proxy_up 0");
      assertThat(get(port, "/healthz/ready").statusCode()).isEqualTo(503);
      assertThat(get(port, "/app-health/app/livez").statusCode()).isEqualTo(404);
    }
  }

  @Test
  void statusPortZeroServesNoStatusServerButStillTheHealthPort() throws Exception {
    try (StatusServer server = new StatusServer(noProxy(), null, null, "127.0.0.1", () -> {}, 0)) {
      server.start();
      assertThat(get(15021, "/healthz/ready").body()).isEqualTo("proxy not ready\n");
      assertThatThrownBy(() -> get(15020, "/stats/prometheus"))
          .isInstanceOf(ConnectException.class);
    }
  }
}
