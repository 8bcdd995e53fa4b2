package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * envoy.filters.network.rbac before tcp_proxy on real listeners relaying to a real echo server: a
 * connection the rules deny is closed on its first bytes and nothing reaches the upstream.
 */
class RbacNetworkFilterTest {
  ServerSocket echo;
  final AtomicLong echoed = new AtomicLong();
  final ExecutorService pool = Executors.newCachedThreadPool();
  ProxyFixture proxy;

  static String listener(String name, String statPrefix, String permission, String principal) {
    return """
        - name: %s
          address: {socket_address: {address: 127.0.0.1, port_value: 0}}
          filter_chains:
          - filters:
            - name: envoy.filters.network.rbac
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
                stat_prefix: %s
                rules:
                  action: ALLOW
                  policies:
                    ns[default]-policy[tcp]-rule[0]:
                      permissions: [%s]
                      principals: [%s]
            - name: envoy.filters.network.tcp_proxy
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                stat_prefix: echo
                cluster: echo
        """
        .formatted(name, statPrefix, permission, principal);
  }

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
                    byte[] buf = new byte[1024];
                    for (int n; (n = s.getInputStream().read(buf)) > 0; ) {
                      echoed.addAndGet(n);
                      s.getOutputStream().write(buf, 0, n);
                    }
                  }
                  return null;
                });
          }
          return null;
        });
    String lowPorts = "{destination_port_range: {start: 1, end: 1024}}";
    proxy =
        new ProxyFixture(
            "static_resources:\n  listeners:\n"
                + (listener(
                            "from-two",
                            "by_source.",
                            "{any: true}",
                            "{source_ip: {address_prefix: 127.0.0.2, prefix_len: 32}}")
                        + listener("to-low-ports", "by_port", lowPorts, "{any: true}")
                        + listener(
                            "not-to-low-ports",
                            "by_port",
                            "{not_rule: " + lowPorts + "}",
                            "{any: true}"))
                    .indent(2)
                + """
                  clusters:
                  - name: echo
                    connect_timeout: 1s
                    type: STATIC
                    load_assignment:
                      cluster_name: echo
                      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
                """
                    .formatted(echo.getLocalPort()));
  }

  @AfterEach
  void stop() throws Exception {
    proxy.close();
    echo.close();
    pool.shutdownNow();
  }

  /** Sends a line from a source address; what comes back, or null when the proxy closed it. */
  private String exchange(String fromIp, String listener) throws IOException {
    try (Socket s = new Socket()) {
      s.bind(new InetSocketAddress(fromIp, 0));
      s.connect(new InetSocketAddress("127.0.0.1", proxy.port(listener)), 5000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write("hello\n".getBytes(StandardCharsets.UTF_8));
      InputStream in = s.getInputStream();
      byte[] buf = new byte[6];
      int got = 0;
      try {
        while (got < buf.length) {
          int n = in.read(buf, got, buf.length - got);
          if (n < 0) {
            return null;
          }
          got += n;
        }
      } catch (SocketException reset) {
        return null; // closed with our bytes unread: the kernel answers with a reset
      }
      return new String(buf, StandardCharsets.UTF_8);
    }
  }

  @Test
  void aConnectionFromANonMatchingSourceIsClosedAndAMatchingOneRelayed() throws Exception {
    assertThat(exchange("127.0.0.1", "from-two")).isNull();
    assertThat(echoed.get()).isZero();
    assertThat(exchange("127.0.0.2", "from-two")).isEqualTo("hello\n");
    assertThat(proxy.stat("by_source.rbac.denied")).isEqualTo(1);
    assertThat(proxy.stat("by_source.rbac.allowed")).isEqualTo(1);
  }

  @Test
  void aConnectionToANonMatchingPortIsClosedAndAMatchingOneRelayed() throws Exception {
    // The listeners' ports are ephemeral, never below 1024.
    assertThat(exchange("127.0.0.1", "to-low-ports")).isNull();
    assertThat(echoed.get()).isZero();
    assertThat(exchange("127.0.0.1", "not-to-low-ports")).isEqualTo("hello\n");
    // A stat_prefix without its trailing dot gets one, as in Envoy.
    assertThat(proxy.stat("by_port.rbac.denied")).isEqualTo(1);
    assertThat(proxy.stat("by_port.rbac.allowed")).isEqualTo(1);
  }
}
