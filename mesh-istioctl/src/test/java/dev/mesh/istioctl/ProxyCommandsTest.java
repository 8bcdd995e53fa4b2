package dev.mesh.istioctl;

import static dev.mesh.istioctl.MeshctlRun.meshctl;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

/**
 * proxy-status and proxy-config against a live pilot (file mode, as a process) and a live
 * mesh-proxy it configures: what they print, and a NACK showing as STALE with its error.
 */
class ProxyCommandsTest {
  static final String NODE = "sidecar~10.44.9.9~productpage-1.default~default.svc.cluster.local";
  @TempDir static Path dir;
  static Process pilot;
  static Process proxy;
  static int monitoring;
  static int admin;

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static Path jar(String module, String jar) {
    return dev.mesh.local.Build.jar(module, jar);
  }

  static final String MESH =
      """
      apiVersion: v1
      kind: Service
      metadata: {name: reviews, namespace: default}
      spec:
        clusterIP: 10.96.9.20
        ports: [{name: http, port: 9080}]
      ---
      apiVersion: discovery.k8s.io/v1
      kind: EndpointSlice
      metadata: {name: reviews-1, namespace: default, labels: {kubernetes.io/service-name: reviews}}
      addressType: IPv4
      ports: [{name: http, port: 9080}]
      endpoints: [{addresses: ["10.44.9.20"]}]
      """;

  @BeforeAll
  static void start() throws Exception {
    Path config = Files.createDirectories(dir.resolve("config"));
    Files.writeString(config.resolve("mesh.yaml"), MESH);
    int grpc = freePort();
    monitoring = freePort();
    admin = freePort();
    pilot =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                jar("mesh-pilot", "mesh-pilot.jar").toString(),
                "--config-dir=" + config,
                "--server.port=" + monitoring,
                "--validation-port=0",
                "--spring.grpc.server.port=" + grpc)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("pilot.log").toFile())
            .start();
    Path bootstrap = dir.resolve("bootstrap.yaml");
    Files.writeString(
        bootstrap,
        """
        node: {id: "%s", cluster: productpage.default}
        dynamic_resources:
          ads_config:
            api_type: DELTA_GRPC
            transport_api_version: V3
            grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]
          cds_config: {ads: {}, resource_api_version: V3}
          lds_config: {ads: {}, resource_api_version: V3}
        static_resources:
          clusters:
          - name: xds-grpc
            type: STATIC
            http2_protocol_options: {}
            load_assignment:
              cluster_name: xds-grpc
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
        admin:
          address: {socket_address: {address: 127.0.0.1, port_value: %d}}
        """
            .formatted(NODE, grpc, admin));
    proxy =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                jar("mesh-proxy", "mesh-proxy.jar").toString(),
                "-c",
                bootstrap.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("proxy.log").toFile())
            .start();
    assertThat(
            eventually(
                () ->
                    status()
                        .matches(
                            "(?s).*productpage-1\\.default\\s+SYNCED\\s+SYNCED\\s+SYNCED\\s+SYNCED\\s.*"),
                90))
        .as("proxy synced; pilot log:\n%s\nproxy log:\n%s", log("pilot.log"), log("proxy.log"))
        .isTrue();
  }

  @AfterAll
  static void stop() throws Exception {
    for (Process p : new Process[] {proxy, pilot}) {
      if (p != null) {
        p.destroy();
        p.waitFor(10, TimeUnit.SECONDS);
        p.destroyForcibly();
      }
    }
  }

  static String log(String name) {
    try {
      return Files.readString(dir.resolve(name));
    } catch (IOException e) {
      return "";
    }
  }

  static String status(String... more) {
    List<String> args =
        new java.util.ArrayList<>(
            List.of("proxy-status", "--pilot-url", "http://127.0.0.1:" + monitoring));
    args.addAll(List.of(more));
    return meshctl(args.toArray(String[]::new)).out();
  }

  static boolean eventually(BooleanSupplier condition, int seconds) {
    return dev.mesh.local.Build.eventually(condition, java.time.Duration.ofSeconds(seconds));
  }

  @Test
  void proxyConfigShowsWhatTheProxyRuns() {
    String admin = "http://127.0.0.1:" + ProxyCommandsTest.admin;
    MeshctlRun clusters =
        meshctl("proxy-config", "clusters", "productpage-1.default", "--admin-url", admin);
    assertThat(clusters.code()).as(clusters.err()).isZero();
    assertThat(clusters.out())
        .containsPattern(
            "reviews\\.default\\.svc\\.cluster\\.local\\s+9080\\s+-\\s+outbound\\s+EDS")
        .contains("xds-grpc");
    assertThat(
            meshctl("proxy-config", "listeners", "productpage-1.default", "--admin-url", admin)
                .out())
        .containsPattern("virtualOutbound\\s+0\\.0\\.0\\.0\\s+15001")
        .contains("virtualInbound");
    assertThat(
            meshctl("proxy-config", "routes", "productpage-1.default", "--admin-url", admin).out())
        .containsPattern("9080\\s+reviews\\.default\\.svc\\.cluster\\.local:9080");
    assertThat(
            meshctl("proxy-config", "endpoints", "productpage-1.default", "--admin-url", admin)
                .out())
        .contains("10.44.9.20:9080")
        .contains("outbound|9080||reviews.default.svc.cluster.local");
    MeshctlRun json =
        meshctl(
            "proxy-config",
            "clusters",
            "productpage-1.default",
            "--admin-url",
            admin,
            "-o",
            "json");
    assertThat(
            JsonMapper.builder()
                .build()
                .readTree(json.out())
                .path("dynamic_active_clusters")
                .size())
        .isPositive();
    assertThat(
            meshctl("proxy-config", "bootstrap", "productpage-1.default", "--admin-url", admin)
                .out())
        .contains(NODE);
    MeshctlRun wrong =
        meshctl("proxy-config", "cookies", "productpage-1.default", "--admin-url", admin);
    assertThat(wrong.code()).isEqualTo(2);
    assertThat(wrong.err())
        .contains("use listeners, routes, clusters, endpoints, bootstrap or secret");
  }

  @Test
  void aNackShowsAsStaleWithTheProxysError() throws Exception {
    assertThat(status("productpage-1.default")).contains("CDS  SYNCED");
    // A DestinationRule mesh-proxy cannot honour (consistentHash needs RING_HASH).
    Files.writeString(
        dir.resolve("config").resolve("dr.yaml"),
        """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: reviews, namespace: default}
        spec:
          host: reviews
          trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
        """);
    // STALE alone can be the push still unanswered; the proxy's NACK brings its error.
    assertThat(eventually(() -> status().contains("CDS rejected: "), 30)).isTrue();
    assertThat(status())
        .containsPattern("productpage-1\\.default\\s+STALE")
        .contains("CDS rejected: ");
    assertThat(status("productpage-1.default"))
        .containsPattern("CDS\\s+STALE\\s+sent .*rejected: .+");
    Files.delete(dir.resolve("config").resolve("dr.yaml"));
    assertThat(eventually(() -> !status().contains("STALE"), 30)).isTrue();
    MeshctlRun unknown =
        meshctl("proxy-status", "--pilot-url", "http://127.0.0.1:" + monitoring, "nobody.default");
    assertThat(unknown.code()).isEqualTo(1);
    assertThat(unknown.err()).contains("knows no proxy for pod nobody.default");
  }
}
