package dev.mesh.injector.bench;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * bench/injector.sh's driver: the injector's jar as a child process, with an API server (fabric8's
 * mock, CRUD, some namespaces) or with none reachable, and AdmissionReviews sent to it one after
 * another over HTTPS as an API server sends them; prints the latency of each review's answer (p50,
 * p99, max) after a warm-up. Args: jar, present|absent, reviews.
 */
public final class ReviewLatency {
  private ReviewLatency() {}

  public static void main(String[] args) throws Exception {
    Path jar = Path.of(args[0]);
    boolean present = args[1].equals("present");
    int n = Integer.parseInt(args[2]);
    KubernetesMockServer api = null;
    String master = "https://127.0.0.1:1";
    // The mock API server logs every request it serves; the benchmark prints only its table.
    java.util.logging.Logger.getLogger("io.fabric8.mockwebserver")
        .setLevel(java.util.logging.Level.WARNING);
    if (present) {
      api =
          new KubernetesMockServer(
              new io.fabric8.mockwebserver.Context(),
              new io.fabric8.mockwebserver.MockWebServer(),
              new java.util.HashMap<>(),
              new io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher(),
              true);
      api.init(java.net.InetAddress.getLoopbackAddress(), 0);
      KubernetesClient client = api.createClient();
      for (String ns : List.of("shop", "legacy", "plain")) {
        client
            .namespaces()
            .resource(
                new NamespaceBuilder()
                    .withNewMetadata()
                    .withName(ns)
                    .withLabels(ns.equals("shop") ? Map.of("istio-injection", "enabled") : Map.of())
                    .endMetadata()
                    .build())
            .create();
      }
      master = client.getMasterUrl().toString();
    }
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path log = Files.createTempFile("mesh-" + ProcessHandle.current().pid() + "-injector-", ".log");
    Process injector =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dkubernetes.master=" + master,
                "-Dkubernetes.trust.certificates=true",
                "-Dkubernetes.auth.tryKubeConfig=false",
                "-Dkubernetes.auth.tryServiceAccount=false",
                "-jar",
                jar.toString(),
                "--server.port=" + port)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      awaitPort(port, injector, log);
      HttpClient https = HttpClient.newBuilder().sslContext(trustAll()).build();
      URI url = URI.create("https://127.0.0.1:" + port + "/inject");
      String review = review(present ? "plain" : "shop");
      for (int i = 0; i < Math.min(1000, n); i++) {
        send(https, url, review); // warm-up: the JIT, the connection
      }
      List<Long> micros = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        long start = System.nanoTime();
        send(https, url, review);
        micros.add((System.nanoTime() - start) / 1000);
      }
      Collections.sort(micros);
      System.out.printf(
          "%-28s %8d %9.2f %9.2f %9.2f%n",
          present ? "API server present" : "API server unreachable",
          n,
          micros.get(n / 2) / 1000.0,
          micros.get((int) Math.ceil(n * 0.99) - 1) / 1000.0,
          micros.get(n - 1) / 1000.0);
    } finally {
      injector.destroy();
      injector.waitFor(10, TimeUnit.SECONDS);
      Files.deleteIfExists(log);
      if (api != null) {
        api.destroy();
      }
    }
  }

  private static void send(HttpClient https, URI url, String review) throws Exception {
    HttpResponse<String> r =
        https.send(
            HttpRequest.newBuilder(url)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(review))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200 || !r.body().contains("\"allowed\":true")) {
      throw new IllegalStateException("review answered " + r.statusCode() + ": " + r.body());
    }
  }

  private static String review(String namespace) {
    return """
        {"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
         "uid":"bench","kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"%s",
         "operation":"CREATE","object":{"metadata":{"generateName":"reviews-v1-",
         "labels":{"app":"reviews","version":"v1"}},"spec":{"containers":[{"name":"reviews",
         "image":"example/reviews:1","ports":[{"containerPort":9080,"name":"http"}]}]}}}}
        """
        .formatted(namespace);
  }

  private static void awaitPort(int port, Process p, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("the injector exited: " + Files.readString(log));
      }
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (java.io.IOException e) {
        Thread.sleep(100); // poll interval
      }
    }
    throw new IllegalStateException(
        "the injector did not listen in 120 s: " + Files.readString(log));
  }

  /** The benchmark measures answers, not trust: it takes the injector's certificate as it is. */
  private static SSLContext trustAll() throws Exception {
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(
        null,
        new TrustManager[] {
          new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {}

            @Override
            public X509Certificate[] getAcceptedIssuers() {
              return new X509Certificate[0];
            }
          }
        },
        null);
    return ssl;
  }
}
