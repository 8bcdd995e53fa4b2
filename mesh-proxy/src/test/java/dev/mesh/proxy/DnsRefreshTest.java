package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.NetworkNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
      String java = NetworkNamespace.javaBinary();
      String cp = NetworkNamespace.classPath();
      ns.start(
          List.of(java, "-cp", cp, EchoServerMain.class.getName(), "127.0.0.2:9000"),
          dir.resolve("a.log"));
      ns.start(
          List.of(java, "-cp", cp, EchoServerMain.class.getName(), "127.0.0.3:9000"),
          dir.resolve("b.log"));
      ns.start(
          List.of(
              java, "-cp", cp, Main.class.getName(), "-c", config.toString(), "--concurrency", "1"),
          dir.resolve("proxy.log"));
      assertThat(answer(ns, "echo 127.0.0.2:9000", 60)).isTrue();
      ns.writeHosts("127.0.0.1 localhost\n127.0.0.3 backend.test\n");
      // The refresh rate is the behaviour under test: 0.2 s configured, 5 s if it were ignored,
      // 30 s if the JVM's DNS cache stood in the way.
      assertThat(answer(ns, "echo 127.0.0.3:9000", 3)).isTrue();
    }
  }

  /** Polls the proxy's front listener from inside the namespace until the answer names a host. */
  private static boolean answer(NetworkNamespace ns, String expected, int seconds)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      String out =
          ns.exec(
                  "bash",
                  "-c",
                  "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3")
              .stdout();
      if (out.contains(expected)) {
        return true;
      }
      Thread.sleep(100); // poll interval, bounded by the deadline
    }
    return false;
  }
}
