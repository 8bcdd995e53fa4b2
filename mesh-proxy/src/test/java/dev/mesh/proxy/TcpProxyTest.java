package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Envoy's TCP proxy example shape: a listener relaying bytes to an echo server. */
class TcpProxyTest {
  ServerSocket echo;
  ExecutorService pool = Executors.newCachedThreadPool();
  ProxyFixture proxy;

  @BeforeEach
  void start() throws Exception {
    echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    pool.submit(
        () -> {
          while (!echo.isClosed()) {
            Socket s = echo.accept();
            pool.submit(
                () -> {
                  try (s) {
                    s.getInputStream().transferTo(s.getOutputStream());
                  }
                  return null;
                });
          }
          return null;
        });
    proxy =
        new ProxyFixture(
            """
            static_resources:
              listeners:
              - name: tcp
                address:
                  socket_address: {address: 127.0.0.1, port_value: 0}
                filter_chains:
                - filters:
                  - name: envoy.filters.network.tcp_proxy
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                      stat_prefix: destination
                      weighted_clusters:
                        clusters:
                        - {name: echo, weight: 100}
                        - {name: nowhere, weight: 0}
              clusters:
              - name: echo
                connect_timeout: 0.25s
                type: STATIC
                load_assignment:
                  cluster_name: echo
                  endpoints:
                  - lb_endpoints:
                    - endpoint:
                        address:
                          socket_address: {address: 127.0.0.1, port_value: %d}
            """
                .formatted(echo.getLocalPort()));
  }

  @AfterEach
  void stop() throws Exception {
    proxy.close();
    echo.close();
    pool.shutdownNow();
  }

  @Test
  void relaysBytesBothWaysAndCountsThem() throws Exception {
    byte[] payload = "x".repeat(1 << 20).getBytes(StandardCharsets.US_ASCII);
    try (Socket s = new Socket("127.0.0.1", proxy.port("tcp"))) {
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      pool.submit(
          () -> {
            out.write(payload);
            out.flush();
            s.shutdownOutput();
            return null;
          });
      byte[] back = in.readAllBytes();
      assertThat(back).hasSize(payload.length).isEqualTo(payload);
    }
    assertThat(proxy.stat("tcp.destination.downstream_cx_total")).isEqualTo(1);
    assertThat(proxy.stat("tcp.destination.downstream_cx_rx_bytes_total"))
        .isEqualTo(payload.length);
    assertThat(proxy.stat("cluster.echo.upstream_cx_total")).isEqualTo(1);
  }

  /** A short request and its FIN, sent at once, usually arrive before the upstream is connected. */
  @Test
  void aRequestAndItsFinSentAtOnceStillGetTheReply() throws Exception {
    for (int i = 0; i < 20; i++) {
      try (Socket s = new Socket("127.0.0.1", proxy.port("tcp"))) {
        s.getOutputStream().write(("ping " + i).getBytes(StandardCharsets.US_ASCII));
        s.shutdownOutput();
        assertThat(new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
            .isEqualTo("ping " + i);
      }
    }
  }
}
