package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A WebSocket handshake through the proxy, then bytes both ways, as upgrade_configs allow. */
class WebSocketUpgradeTest {
  ServerSocket upstream;
  ExecutorService pool = Executors.newCachedThreadPool();
  ProxyFixture proxy;
  volatile String seenRequestHead;

  @BeforeEach
  void start() throws Exception {
    upstream = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
    pool.submit(
        () -> {
          while (!upstream.isClosed()) {
            Socket s = upstream.accept();
            pool.submit(
                () -> {
                  try (s) {
                    seenRequestHead = head(s.getInputStream());
                    s.getOutputStream()
                        .write(
                            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                    + "Connection: Upgrade\r\n\r\n")
                                .getBytes(StandardCharsets.US_ASCII));
                    s.getInputStream().transferTo(s.getOutputStream()); // echo the frames
                  }
                  return null;
                });
          }
          return null;
        });
  }

  @AfterEach
  void stop() throws Exception {
    proxy.close();
    upstream.close();
    pool.shutdownNow();
  }

  static String head(InputStream in) throws Exception {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (!b.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        break;
      }
      b.write(c);
    }
    return b.toString(StandardCharsets.ISO_8859_1);
  }

  private ProxyFixture proxy(String hcmFields) throws Exception {
    String routes =
        """
        - name: all
          domains: ["*"]
          routes: [{match: {prefix: "/"}, route: {cluster: ws}}]
        """;
    return new ProxyFixture(
        Bootstraps.http(routes, Bootstraps.cluster("ws", upstream.getLocalPort()))
            .replace("stat_prefix: test\n", "stat_prefix: test\n" + hcmFields.indent(10)));
  }

  private static final String HANDSHAKE =
      "GET /chat HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

  @Test
  void anAllowedUpgradeBecomesATunnel() throws Exception {
    proxy = proxy("upgrade_configs: [{upgrade_type: websocket}]\n");
    try (Socket s = new Socket("127.0.0.1", proxy.port("http"))) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(HANDSHAKE.getBytes(StandardCharsets.US_ASCII));
      assertThat(head(s.getInputStream())).startsWith("HTTP/1.1 101 Switching Protocols");
      byte[] frame = {(byte) 0x81, 0x04, 'p', 'i', 'n', 'g'};
      s.getOutputStream().write(frame);
      assertThat(s.getInputStream().readNBytes(frame.length)).isEqualTo(frame);
    }
    assertThat(seenRequestHead)
        .contains("upgrade: websocket")
        .contains("connection: upgrade")
        .contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==");
  }

  @Test
  void anUpgradeNotConfiguredIsForbidden() throws Exception {
    proxy = proxy("");
    assertThat(RawHttp.exchange(proxy.port("http"), HANDSHAKE)).startsWith("HTTP/1.1 403");
    assertThat(seenRequestHead).isNull();
  }
}
