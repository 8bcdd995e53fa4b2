package dev.mesh.local.apps;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Executors;

/**
 * The demo's Bookinfo-like service: {@code SampleApp <name> <version> <port> [downstream URL]}
 * answers "<name> <version>" and, with a downstream, what the downstream answered after an arrow:
 * productpage v1 -> reviews v2 -> ratings v1. For the e2e scenarios, {@code /flaky} fails every
 * other request with 503, and {@code /slow?ms=N} answers N ms late. On SIGTERM it stops accepting
 * and answers what it has accepted. Run as a child process.
 */
public final class SampleApp {
  private SampleApp() {}

  public static void main(String[] args) throws IOException {
    // The JDK server writes a response's head and body apart; without this, Nagle's algorithm
    // meets the reader's delayed ACK and each answer waits 40 ms.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    String self = args[0] + " " + args[1];
    int port = Integer.parseInt(args[2]);
    URI downstream = args.length > 3 ? URI.create(args[3]) : null;
    HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(2))
            .build();
    java.util.concurrent.atomic.AtomicInteger calls =
        new java.util.concurrent.atomic.AtomicInteger();
    HttpServer server = HttpServer.create(new InetSocketAddress(port), 64);
    server.createContext(
        "/",
        ex -> {
          String body = self;
          int status = 200;
          String path = ex.getRequestURI().getPath();
          String query = ex.getRequestURI().getQuery();
          if (path.startsWith("/flaky") && calls.incrementAndGet() % 2 == 1) {
            status = 503;
          }
          if (path.startsWith("/slow") && query != null && query.startsWith("ms=")) {
            try {
              Thread.sleep(Long.parseLong(query.substring(3)));
            } catch (InterruptedException | NumberFormatException e) {
              // answer at once
            }
          }
          if (downstream != null && status == 200) {
            try {
              HttpResponse<String> r =
                  http.send(
                      HttpRequest.newBuilder(downstream).timeout(Duration.ofSeconds(5)).build(),
                      HttpResponse.BodyHandlers.ofString());
              body = self + " -> " + (r.statusCode() == 200 ? r.body() : "error " + r.statusCode());
            } catch (IOException | InterruptedException e) {
              body = self + " -> unreachable";
              status = 503;
            }
          }
          byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(status, bytes.length);
          ex.getResponseBody().write(bytes);
          ex.close();
        });
    server.setExecutor(Executors.newFixedThreadPool(8));
    server.start();
    // Kubernetes stops a pod with SIGTERM: a well-behaved app answers what it has accepted.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(5)));
  }
}
