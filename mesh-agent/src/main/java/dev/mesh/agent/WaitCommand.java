package dev.mesh.agent;

import dev.mesh.api.MeshPorts;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * {@code mesh-agent wait}, Istio's {@code pilot-agent wait}: polls the sidecar's readiness until it
 * answers 200 (exit 0) or the timeout passes (exit 1). As a postStart hook of the sidecar container
 * it holds the app's start until the proxy is ready.
 */
final class WaitCommand {
  private WaitCommand() {}

  static int run(String[] args) {
    String url = "http://localhost:" + MeshPorts.AGENT_HEALTH + "/healthz/ready";
    long timeoutSeconds = 60;
    long periodMillis = 500;
    try {
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        String v =
            a.contains("=")
                ? a.substring(a.indexOf('=') + 1)
                : (i + 1 < args.length ? args[++i] : "");
        String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
        switch (name) {
          case "--url" -> url = v;
          case "--timeoutSeconds" -> timeoutSeconds = Long.parseLong(v);
          case "--periodMillis" -> periodMillis = Long.parseLong(v);
          default -> {
            System.err.print(AgentApplication.USAGE);
            return 2;
          }
        }
      }
    } catch (NumberFormatException e) {
      System.err.println("mesh-agent wait: " + e.getMessage());
      return 2;
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofMillis(500)).build();
    long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      try {
        int status =
            http.send(
                    HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(1)).build(),
                    HttpResponse.BodyHandlers.discarding())
                .statusCode();
        if (status == 200) {
          System.out.println("mesh-agent wait: sidecar ready");
          return 0;
        }
        last = "answered " + status;
      } catch (IOException e) {
        last = "no answer (" + e.getMessage() + ")";
      } catch (InterruptedException e) {
        return 1;
      }
      try {
        Thread.sleep(periodMillis); // the poll period
      } catch (InterruptedException e) {
        return 1;
      }
    }
    System.err.println(
        "mesh-agent wait: sidecar not ready after " + timeoutSeconds + " s: " + url + " " + last);
    return 1;
  }
}
