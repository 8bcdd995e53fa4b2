package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Transparent capture as a sidecar sees it: in a network namespace, iptables REDIRECTs an app's
 * outgoing connections (uid 1000) to the proxy's 15001; the proxy reads SO_ORIGINAL_DST, hands the
 * connection to the listener for that destination, or passes it through to it.
 */
class OriginalDstCaptureTest {
  static NetworkNamespace ns;
  static Process proxy;
  @TempDir static Path dir;

  static final String CAPTURE =
      """
      *nat
      :OUTPUT ACCEPT [0:0]
      -A OUTPUT -p tcp -m owner --uid-owner 1000 -j REDIRECT --to-ports 15001
      COMMIT
      """;

  @BeforeAll
  static void start() throws Exception {
    ns = NetworkNamespace.create("proxy-odst");
    Path config = dir.resolve("bootstrap.yaml");
    Files.writeString(
        config,
        """
        static_resources:
          listeners:
          - name: virtualOutbound
            address: {socket_address: {address: 0.0.0.0, port_value: 15001}}
            use_original_dst: true
            listener_filters:
            - name: envoy.filters.listener.original_dst
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst
            filter_chains:
            - filters:
              - name: envoy.filters.network.tcp_proxy
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                  stat_prefix: PassthroughCluster
                  cluster: PassthroughCluster
          - name: 127.0.0.1_9999
            address: {socket_address: {address: 127.0.0.1, port_value: 9999}}
            bind_to_port: false
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: outbound_9999
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: {prefix: "/"}
                        direct_response: {status: 200, body: {inline_string: "virtual listener 9999"}}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          clusters:
          - name: PassthroughCluster
            type: ORIGINAL_DST
            lb_policy: CLUSTER_PROVIDED
            connect_timeout: 1s
        admin:
          address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
        """);
    String java = NetworkNamespace.javaBinary();
    String cp = NetworkNamespace.classPath();
    ns.start(
        List.of(java, "-cp", cp, EchoServerMain.class.getName(), "9998"), dir.resolve("echo.log"));
    proxy =
        ns.start(
            List.of(
                java,
                "-cp",
                cp,
                Main.class.getName(),
                "-c",
                config.toString(),
                "--concurrency",
                "1"),
            dir.resolve("proxy.log"));
    awaitAnswer("127.0.0.1", 15000, "GET /ready", "LIVE");
    awaitAnswer("127.0.0.1", 9998, "GET /", "echo 9998");
  }

  @AfterAll
  static void stop() {
    if (ns != null) {
      ns.close();
    }
  }

  /** An HTTP/1.0 request from inside the namespace, as uid {@code uid}, with bash's /dev/tcp. */
  static Host.Result request(int uid, String host, int port, String requestLine) {
    String script =
        "exec 3<>/dev/tcp/%s/%d && printf '%s HTTP/1.0\\r\\nHost: app\\r\\n\\r\\n' >&3 && cat <&3"
            .formatted(host, port, requestLine);
    return ns.exec(
        "setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "bash", "-c", script);
  }

  static void awaitAnswer(String host, int port, String requestLine, String expected)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline && proxy.isAlive()) {
      if (request(0, host, port, requestLine).stdout().contains(expected)) {
        return;
      }
      Thread.sleep(100); // poll interval; the deadline bounds the wait
    }
    String logs;
    try {
      logs = Files.readString(dir.resolve("proxy.log")) + Files.readString(dir.resolve("echo.log"));
    } catch (java.io.IOException e) {
      logs = e.toString();
    }
    throw new AssertionError(
        host + ":" + port + " never answered " + expected + "; logs:\n" + logs);
  }

  static long stat(String name) {
    for (String line : request(0, "127.0.0.1", 15000, "GET /stats").stdout().split("\n")) {
      if (line.startsWith(name + ": ")) {
        return Long.parseLong(line.substring(name.length() + 2).trim());
      }
    }
    return 0;
  }

  @Test
  void capturedConnectionsReachTheListenerOfTheirOriginalDestinationOrPassThrough() {
    // Control: without the rules nothing is captured and nothing listens on 9999.
    assertThat(request(1000, "127.0.0.1", 9999, "GET /").exitCode()).isNotZero();
    assertThat(request(1000, "127.0.0.1", 9998, "GET /direct").stdout())
        .contains("echo 9998 /direct");
    assertThat(stat("listener.127.0.0.1_9999.downstream_cx_total")).isZero();
    assertThat(stat("tcp.PassthroughCluster.downstream_cx_total")).isZero();

    ns.execWithInput(CAPTURE, "iptables-restore").orThrow("iptables-restore");
    try {
      Host.Result virtual = request(1000, "127.0.0.1", 9999, "GET /hello");
      assertThat(virtual.stdout()).contains("200 OK").endsWith("virtual listener 9999");
      Host.Result passthrough = request(1000, "127.0.0.1", 9998, "GET /through");
      assertThat(passthrough.stdout()).endsWith("echo 9998 /through");
      assertThat(stat("listener.127.0.0.1_9999.downstream_cx_total")).isEqualTo(1);
      assertThat(stat("tcp.PassthroughCluster.downstream_cx_total")).isEqualTo(1);
      // uid 0 (the proxy's side here) is not captured.
      assertThat(request(0, "127.0.0.1", 9999, "GET /").exitCode()).isNotZero();
    } finally {
      ns.exec("iptables", "-t", "nat", "-F", "OUTPUT");
    }
  }
}
