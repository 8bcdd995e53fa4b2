package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inbound capture in TPROXY mode: a client in one namespace connects to the pod's address in
 * another, where iptables TPROXY hands the connection to the proxy's transparent listener with the
 * original destination as its local address; the proxy hands it to that address's listener.
 */
class TproxyCaptureTest {
  @TempDir Path dir;

  static final String TPROXY =
      """
      *mangle
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -p tcp --dport 9080 -j TPROXY --on-port 15006 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1
      COMMIT
      """;

  @Test
  void aTproxiedConnectionReachesTheListenerOfItsOriginalDestination() throws Exception {
    try (NetworkNamespace client = NetworkNamespace.create("tproxy-client");
        NetworkNamespace pod = NetworkNamespace.create("tproxy-pod")) {
      client.linkTo(pod, "10.250.7.1/30", "10.250.7.2/30");
      Path config = dir.resolve("bootstrap.yaml");
      Files.writeString(
          config,
          """
          static_resources:
            listeners:
            - name: virtualInbound
              address: {socket_address: {address: 0.0.0.0, port_value: 15006}}
              transparent: true
              use_original_dst: true
              listener_filters:
              - name: envoy.filters.listener.original_dst
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst
              filter_chains:
              - filters:
                - name: envoy.filters.network.http_connection_manager
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                    stat_prefix: inbound_passthrough
                    route_config:
                      virtual_hosts:
                      - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "capture listener"}}}]}
                    http_filters:
                    - name: envoy.filters.http.router
                      typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
            - name: 10.250.7.2_9080
              address: {socket_address: {address: 10.250.7.2, port_value: 9080}}
              bind_to_port: false
              filter_chains:
              - filters:
                - name: envoy.filters.network.http_connection_manager
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                    stat_prefix: inbound_9080
                    route_config:
                      virtual_hosts:
                      - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "inbound 9080"}}}]}
                    http_filters:
                    - name: envoy.filters.http.router
                      typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          admin:
            address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
          """);
      InNamespace.startProxy(pod, config, dir.resolve("proxy.log"));

      // Control: without the rules nothing listens on 9080.
      assertThat(InNamespace.request(client, 0, "10.250.7.2", 9080, "GET /").exitCode())
          .isNotZero();

      pod.execWithInput(TPROXY, "iptables-restore").orThrow("iptables-restore (TPROXY)");
      pod.exec("ip", "rule", "add", "fwmark", "1", "lookup", "133").orThrow("ip rule");
      pod.exec("ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "133")
          .orThrow("ip route (local)");
      Host.Result captured = InNamespace.request(client, 0, "10.250.7.2", 9080, "GET /");
      assertThat(captured.stdout()).contains("200 OK").endsWith("inbound 9080");
    }
  }
}
