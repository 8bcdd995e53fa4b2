package dev.mesh.proxy;

import dev.mesh.proxy.config.BootstrapLoader;
import dev.mesh.proxy.server.ProxyServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A proxy started in-process from bootstrap YAML, with its listeners on kernel-chosen ports. */
final class ProxyFixture implements AutoCloseable {
  final ProxyServer server;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  ProxyFixture(String yaml) throws InterruptedException {
    server = new ProxyServer(BootstrapLoader.parse(yaml), 2).start();
  }

  ProxyFixture(String yaml, java.time.Duration drainTime, boolean immediateDrain)
      throws InterruptedException {
    server = new ProxyServer(BootstrapLoader.parse(yaml), 2, drainTime, immediateDrain).start();
  }

  int port(String listener) {
    return server.listeners().get(listener).boundPort();
  }

  int adminPort() {
    return server.admin().port();
  }

  HttpResponse<String> get(String listener, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port(listener) + path))
            .timeout(Duration.ofSeconds(20))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> admin(String method, String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort() + path))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  long stat(String name) {
    return server.stats().value(name);
  }

  @Override
  public void close() {
    server.close();
  }
}
