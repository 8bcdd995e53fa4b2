package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Bodies that do not fit, or must not wait, in the proxy: large uploads and downloads, a response
 * whose first bytes must arrive before its last are written, back-pressure from a client that does
 * not read, and a streamed upload sent again on retry.
 */
class StreamingBodyTest {
  static final int BIG = 24 * 1024 * 1024; // beyond any buffer of the proxy (1 MiB) or the kernel
  static final CountDownLatch secondEvent = new CountDownLatch(1);
  static final AtomicLong downloadWritten = new AtomicLong();
  static TestUpstream up;
  static TestUpstream flaky;
  static ProxyFixture proxy;
  static final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    up =
        new TestUpstream(
            "up",
            (ex, n) -> {
              String path = ex.getRequestURI().getPath();
              switch (path) {
                case "/upload" -> TestUpstream.reply(ex, 200, digestOf(ex.getRequestBody()));
                case "/download" -> {
                  ex.sendResponseHeaders(200, 0); // chunked, length unknown
                  OutputStream out = ex.getResponseBody();
                  byte[] chunk = pattern(64 * 1024);
                  try {
                    for (int sent = 0; sent < BIG; sent += chunk.length) {
                      out.write(chunk);
                      downloadWritten.addAndGet(chunk.length);
                    }
                  } catch (IOException reset) {
                    // the back-pressure test closes its client
                  }
                }
                case "/events" -> {
                  ex.getResponseHeaders().set("content-type", "text/event-stream");
                  ex.sendResponseHeaders(200, 0);
                  OutputStream out = ex.getResponseBody();
                  out.write("data: first\n\n".getBytes(StandardCharsets.UTF_8));
                  out.flush();
                  try {
                    if (secondEvent.await(20, TimeUnit.SECONDS)) {
                      out.write("data: second\n\n".getBytes(StandardCharsets.UTF_8));
                    }
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                }
                default -> TestUpstream.reply(ex, 404, "");
              }
            });
    // The first attempt reads the whole upload and fails with 503; the retry gets its digest.
    flaky =
        new TestUpstream(
            "flaky",
            (ex, n) -> {
              String digest = digestOf(ex.getRequestBody());
              TestUpstream.reply(ex, n == 1 ? 503 : 200, digest);
            });
    proxy =
        new ProxyFixture(
            Bootstraps.http(
                """
                - name: all
                  domains: ["*"]
                  routes:
                  - match: {prefix: "/retried"}
                    route:
                      cluster: flaky
                      retry_policy: {retry_on: 5xx, num_retries: 1}
                  - match: {prefix: "/"}
                    route: {cluster: up}
                """,
                Bootstraps.cluster("up", up.port()) + Bootstraps.cluster("flaky", flaky.port())));
  }

  @AfterAll
  static void stop() {
    secondEvent.countDown();
    proxy.close();
    up.close();
    flaky.close();
  }

  @Test
  void aLargeChunkedUploadArrivesWhole() throws Exception {
    byte[] body = pattern(BIG);
    HttpResponse<String> r =
        client.send(
            request("/upload")
                .POST(
                    HttpRequest.BodyPublishers.ofInputStream(
                        () -> new java.io.ByteArrayInputStream(body)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(digestOf(new java.io.ByteArrayInputStream(body)));
  }

  @Test
  void aLargeUploadWithContentLengthArrivesWhole() throws Exception {
    byte[] body = pattern(BIG);
    HttpResponse<String> r =
        client.send(
            request("/upload").POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(digestOf(new java.io.ByteArrayInputStream(body)));
  }

  @Test
  void aLargeDownloadArrivesWhole() throws Exception {
    HttpResponse<InputStream> r =
        client.send(request("/download").build(), HttpResponse.BodyHandlers.ofInputStream());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(digestOf(r.body()))
        .isEqualTo(digestOf(new java.io.ByteArrayInputStream(pattern(BIG))));
  }

  @Test
  void anEventStreamDeliversItsFirstEventBeforeTheUpstreamFinishes() throws Exception {
    HttpResponse<InputStream> r =
        client.send(request("/events").build(), HttpResponse.BodyHandlers.ofInputStream());
    assertThat(r.statusCode()).isEqualTo(200);
    try (var lines =
        new java.io.BufferedReader(
            new java.io.InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      // The upstream writes the second event only after the client has read the first.
      assertThat(lines.readLine()).isEqualTo("data: first");
      secondEvent.countDown();
      assertThat(lines.readLine()).isEmpty();
      assertThat(lines.readLine()).isEqualTo("data: second");
    }
  }

  @Test
  void aClientThatDoesNotReadHoldsBackTheUpstream() throws Exception {
    long before = downloadWritten.get();
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(64 * 1024);
      s.setSoTimeout(20_000);
      s.connect(new java.net.InetSocketAddress("127.0.0.1", proxy.port("http")));
      s.getOutputStream()
          .write("GET /download HTTP/1.1\r\nhost: x\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
      // Wait until the upstream has stopped making progress: socket buffers and the proxy's
      // in-flight piece are full and nothing more is read from the upstream.
      long last = -1;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (System.nanoTime() < deadline) {
        long now = downloadWritten.get() - before;
        if (now > 0 && now == last) {
          break;
        }
        last = now;
        Thread.sleep(300); // poll interval: progress is measured between two looks
      }
      assertThat(last).isPositive().isLessThan(BIG / 2);
      // Reading resumes the flow: the whole body arrives.
      InputStream in = s.getInputStream();
      byte[] buf = new byte[64 * 1024];
      while (downloadWritten.get() - before < BIG && in.read(buf) >= 0) {}
      assertThat(downloadWritten.get() - before).isEqualTo(BIG);
    }
  }

  @Test
  void aStreamedUploadIsSentAgainOnRetry() throws Exception {
    byte[] body = pattern(300 * 1024); // chunked, so it streams; within the retry buffer
    HttpResponse<String> r =
        client.send(
            request("/retried")
                .POST(
                    HttpRequest.BodyPublishers.ofInputStream(
                        () -> new java.io.ByteArrayInputStream(body)))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(digestOf(new java.io.ByteArrayInputStream(body)));
    assertThat(flaky.requests.get()).isEqualTo(2);
  }

  private static HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.port("http") + path))
        .timeout(Duration.ofSeconds(30));
  }

  /** Bytes that repeat every 64 KiB, so that the upstream's 64 KiB chunks form the same body. */
  static byte[] pattern(int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) ((i * 31) ^ (i >>> 8));
    }
    return b;
  }

  /** Byte count and SHA-256 of a stream, read to its end. */
  static String digestOf(InputStream in) throws IOException {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[64 * 1024];
      long total = 0;
      for (int n; (n = in.read(buf)) >= 0; ) {
        sha.update(buf, 0, n);
        total += n;
      }
      return total + " " + HexFormat.of().formatHex(sha.digest());
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
