package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.proxy.config.BootstrapLoader;
import dev.mesh.proxy.config.ConfigRejectedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A config the proxy cannot honour is refused whole, naming what it cannot do. */
class ConfigRejectionTest {

  private static final String LISTENER =
      """
      static_resources:
        listeners:
        - name: l
          address: {socket_address: {address: 127.0.0.1, port_value: 0}}
          %s
          filter_chains:
          - filters:
            - name: tcp
              typed_config:
                "@type": %s
                stat_prefix: s
                cluster: c
      """;

  @Test
  void anUnsupportedFieldIsRefusedByPath() {
    String yaml =
        LISTENER.formatted(
            "per_connection_buffer_limit_bytes: 1024",
            "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy");
    assertThatThrownBy(() -> BootstrapLoader.parse(yaml))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("static_resources.listeners[0].per_connection_buffer_limit_bytes");
  }

  @Test
  void anUnsupportedFieldInsideAnExtensionIsRefusedByPath() {
    String yaml =
        LISTENER.formatted(
                "", "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy")
            + "          max_connect_attempts: 3\n";
    assertThatThrownBy(() -> BootstrapLoader.parse(yaml))
        .hasMessageContaining(
            "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.max_connect_attempts");
  }

  @Test
  void anUnsupportedExtensionIsRefusedByType() {
    String yaml =
        LISTENER.formatted(
            "", "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy");
    assertThatThrownBy(() -> BootstrapLoader.parse(yaml))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("envoy.extensions.filters.network.redis_proxy.v3.RedisProxy");
  }

  @Test
  void anUnsupportedEnumValueIsRefused() {
    String yaml =
        """
        static_resources:
          clusters:
          - name: c
            type: ORIGINAL_DST
            lb_policy: MAGLEV
        """;
    assertThatThrownBy(() -> BootstrapLoader.parse(yaml))
        .hasMessageContaining(
            "static_resources.clusters[0].lb_policy: value MAGLEV is not supported");
  }

  @Test
  void anUnknownRetryConditionIsRefusedWhenTheConfigLoads() {
    String yaml =
        Bootstraps.http(
            """
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                route: {cluster: a, retry_policy: {retry_on: "5xx,sometimes"}}
            """,
            Bootstraps.cluster("a", 1));
    assertThatThrownBy(() -> new ProxyFixture(yaml))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("retry_on condition 'sometimes' is not supported");
  }

  @Test
  void anUnknownFieldIsRefusedByName() {
    assertThatThrownBy(() -> BootstrapLoader.parse("static_resources: {listenerz: []}"))
        .hasMessageContaining("listenerz");
  }

  @Test
  void fieldsWithoutTrafficBehaviourAreAcceptedWithAWarning() {
    assertThat(
            BootstrapLoader.parse(
                    "stats_config: {use_all_default_tags: true}\nlayered_runtime: {layers: []}")
                .hasStatsConfig())
        .isTrue();
  }

  @Test
  void theProxyProcessExitsNonZeroNamingTheField(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("bad.yaml");
    Files.writeString(
        config,
        LISTENER.formatted(
            "per_connection_buffer_limit_bytes: 1024",
            "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"));
    Process p = java("-c", config.toString());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    String err = new String(p.getErrorStream().readAllBytes());
    assertThat(p.exitValue()).isEqualTo(1);
    assertThat(err)
        .contains("error initializing configuration")
        .contains("per_connection_buffer_limit_bytes");
  }

  @Test
  void theProxyProcessServesAndQuitsThroughAdmin(@TempDir Path dir) throws Exception {
    int adminPort;
    try (var s = new java.net.ServerSocket(0)) {
      adminPort = s.getLocalPort();
    }
    Path config = dir.resolve("ok.yaml");
    Files.writeString(
        config,
        "admin: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n"
            .formatted(adminPort));
    Process p = java("-c", config.toString(), "--log-level", "warn");
    try {
      String ready = poll(adminPort, "GET /ready");
      assertThat(ready).contains("200 OK").endsWith("LIVE\n");
      assertThat(poll(adminPort, "POST /quitquitquit")).contains("200 OK");
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
    } finally {
      p.destroyForcibly();
    }
  }

  /** Polls the admin port until it answers, with a deadline. */
  private static String poll(int port, String requestLine) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    IOException last = null;
    while (System.nanoTime() < deadline) {
      try {
        return RawHttp.exchange(
            port, requestLine + " HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n");
      } catch (IOException e) {
        last = e;
        Thread.onSpinWait();
        Thread.sleep(50); // polling interval, not synchronisation: the deadline bounds it
      }
    }
    throw last;
  }

  private static Process java(String... args) throws IOException {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd =
        new java.util.ArrayList<>(
            List.of(javaBin, "-cp", System.getProperty("java.class.path"), "dev.mesh.proxy.Main"));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).start();
  }
}
