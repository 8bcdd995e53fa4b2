package dev.mesh.pilot.validation;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.mesh.certs.CaBundlePatcher;
import dev.mesh.certs.WebhookCertificates;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * Pilot's validating webhook, as istiod's: {@code POST /validate} over HTTPS (15017 by default; the
 * local mesh gives another port, the injector holding 15017 there), with a certificate from a
 * mounted TLS secret or made at start, whose CA goes into the ValidatingWebhookConfiguration
 * {@value #CONFIGURATION} when pilot watches a cluster.
 */
public final class ValidationServer implements AutoCloseable {
  public static final String CONFIGURATION = "mesh-validator";
  private static final Logger LOG = Logger.getLogger(ValidationServer.class.getName());

  private final HttpsServer server;
  private final ExecutorService threads =
      Executors.newFixedThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "pilot-validation");
            t.setDaemon(true);
            return t;
          });
  private final WebhookCertificates certificates;
  private final Path made;
  private Thread patcher;

  private ValidationServer(int port, String tlsDir) throws IOException {
    if (tlsDir != null && !tlsDir.isEmpty()) {
      made = null;
      certificates = WebhookCertificates.fromDirectory(Path.of(tlsDir));
    } else {
      made = Files.createTempDirectory("mesh-" + ProcessHandle.current().pid() + "-pilot-tls-");
      certificates =
          WebhookCertificates.generate(
              made, WebhookCertificates.namesOf("mesh-pilot", "mesh-system"));
    }
    server = HttpsServer.create(new InetSocketAddress(port), 64);
    server.setHttpsConfigurator(new HttpsConfigurator(certificates.serverContext()));
    server.createContext("/validate", this::validate);
    server.setExecutor(threads);
    server.start();
    LOG.info("validating webhook on https port " + port() + " (POST /validate)");
  }

  /** Serves on {@code port} (0: any free one; negative: not at all, null returned). */
  public static ValidationServer start(int port, String tlsDir) throws IOException {
    return port < 0 ? null : new ValidationServer(port, tlsDir);
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** The CA the API server must trust for this webhook (PEM). */
  public String caBundle() {
    return certificates.caBundle();
  }

  /** Keeps the cluster's ValidatingWebhookConfiguration trusting this webhook's CA. */
  public void patchInto(KubernetesClient client) {
    patcher =
        CaBundlePatcher.keepTrying(
            client, CaBundlePatcher.Kind.VALIDATING, CONFIGURATION, certificates.caBundle());
  }

  private void validate(HttpExchange ex) throws IOException {
    if (!ex.getRequestMethod().equals("POST")) {
      reply(ex, 405, "POST an AdmissionReview\n", "text/plain");
      return;
    }
    String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    ValidationReview.Answer a = ValidationReview.review(body);
    reply(ex, a.status(), a.body(), a.status() == 200 ? "application/json" : "text/plain");
  }

  private static void reply(HttpExchange ex, int status, String body, String type)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(status, bytes.length);
    try (var out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    if (patcher != null) {
      patcher.interrupt();
    }
    server.stop(0);
    threads.shutdownNow();
    if (made != null) {
      try (var files = Files.list(made)) {
        files.forEach(f -> f.toFile().delete());
      } catch (IOException e) {
        // best effort
      }
      made.toFile().delete();
    }
  }
}
