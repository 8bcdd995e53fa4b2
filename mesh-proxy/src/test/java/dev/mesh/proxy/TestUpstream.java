package dev.mesh.proxy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/** A real HTTP server on loopback that answers with what it received, for the proxy to reach. */
final class TestUpstream implements AutoCloseable {
  static {
    // Without it the JDK server's header and body writes meet delayed ACKs: 40 ms per response.
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  interface Behaviour {
    void handle(HttpExchange ex, int nth) throws IOException;
  }

  final String name;
  final HttpServer server;
  final AtomicInteger requests = new AtomicInteger();

  TestUpstream(String name, Behaviour behaviour) throws IOException {
    this.name = name;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext(
        "/",
        ex -> {
          try {
            behaviour.handle(ex, requests.incrementAndGet());
          } finally {
            ex.close();
          }
        });
    server.start();
  }

  /** Answers 200 with "name method path" and the request's headers, one per line. */
  static TestUpstream echo(String name) throws IOException {
    return new TestUpstream(name, (ex, n) -> reply(ex, 200, describe(name, ex)));
  }

  static String describe(String name, HttpExchange ex) throws IOException {
    StringBuilder b = new StringBuilder();
    b.append(name)
        .append(' ')
        .append(ex.getRequestMethod())
        .append(' ')
        .append(ex.getRequestURI())
        .append('\n');
    for (Map.Entry<String, List<String>> h : ex.getRequestHeaders().entrySet()) {
      b.append(h.getKey().toLowerCase())
          .append(": ")
          .append(String.join(",", h.getValue()))
          .append('\n');
    }
    byte[] body = ex.getRequestBody().readAllBytes();
    b.append("body: ").append(new String(body, StandardCharsets.UTF_8)).append('\n');
    return b.toString();
  }

  static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("x-upstream", "yes");
    ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    if (bytes.length > 0) {
      ex.getResponseBody().write(bytes);
    }
  }

  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }
}
