package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
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
    InNamespace.startEcho(ns, "9998", dir.resolve("echo.log"));
    InNamespace.startProxy(ns, config, dir.resolve("proxy.log"));
    assertThat(InNamespace.awaitAnswer(ns, "127.0.0.1", 9998, "GET /", "echo 9998", 60)).isTrue();
  }

  @AfterAll
  static void stop() {
    if (ns != null) {
      ns.close();
    }
  }

  static Host.Result request(int uid, String host, int port, String requestLine) {
    return InNamespace.request(ns, uid, host, port, requestLine);
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
