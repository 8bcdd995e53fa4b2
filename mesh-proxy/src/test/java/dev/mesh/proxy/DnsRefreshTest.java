package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A STRICT_DNS cluster follows its name's address at dns_refresh_rate: the proxy runs in a network
 * namespace whose hosts file the test changes under it.
 */
class DnsRefreshTest {
  @TempDir Path dir;

  @Test
  void aDnsClusterFollowsTheNamesNewAddress() throws Exception {
    try (NetworkNamespace ns = NetworkNamespace.create("proxy-dns")) {
      ns.writeHosts("127.0.0.1 localhost\n127.0.0.2 backend.test\n");
      Path config = dir.resolve("bootstrap.yaml");
      Files.writeString(
          config,
          """
          static_resources:
            listeners:
            - name: front
              address: {socket_address: {address: 127.0.0.1, port_value: 8000}}
              filter_chains:
              - filters:
                - name: envoy.filters.network.tcp_proxy
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                    stat_prefix: front
                    cluster: backend
            clusters:
            - name: backend
              type: STRICT_DNS
              dns_refresh_rate: 0.2s
              load_assignment:
                cluster_name: backend
                endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: backend.test, port_value: 9000}}}}]}]
          admin:
            address: {socket_address: {address: 127.0.0.1, port_value: 15000}}
          """);
      InNamespace.startEcho(ns, "127.0.0.2:9000", dir.resolve("a.log"));
      InNamespace.startEcho(ns, "127.0.0.3:9000", dir.resolve("b.log"));
      InNamespace.startProxy(ns, config, dir.resolve("proxy.log"));
      assertThat(InNamespace.awaitAnswer(ns, "127.0.0.1", 8000, "GET /", "echo 127.0.0.2:9000", 60))
          .isTrue();
      ns.writeHosts("127.0.0.1 localhost\n127.0.0.3 backend.test\n");
      // The refresh rate is the behaviour under test: 0.2 s configured, 5 s if it were ignored,
      // 30 s if the JVM's DNS cache stood in the way.
      assertThat(InNamespace.awaitAnswer(ns, "127.0.0.1", 8000, "GET /", "echo 127.0.0.3:9000", 3))
          .isTrue();
    }
  }
}
