package dev.mesh.istioctl;

import static dev.mesh.istioctl.MeshctlRun.meshctl;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.certs.CertificateAuthority;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * proxy-config secret and x authz check against a live mesh-proxy (its jar, as a process) whose
 * bootstrap holds secrets made by a test CA, a secret from an SDS server that never answers, and
 * listeners with RBAC filters as pilot names their policies.
 */
class SecurityCommandsTest {
  @TempDir static Path dir;
  static Process proxy;
  static String admin;
  static CertificateAuthority ca;
  static X509Certificate workload;
  static X509Certificate expired;

  static final String HTTP_RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
  static final String TCP_RBAC =
      "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** A PEM as a YAML double-quoted scalar. */
  static String quoted(String pem) {
    return "\"" + pem.replace("\n", "\\n") + "\"";
  }

  @BeforeAll
  static void start() throws Exception {
    ca = CertificateAuthority.create("cluster.local", Duration.ofDays(3650));
    var leaf =
        ca.issue(
            null,
            List.of(),
            List.of("spiffe://cluster.local/ns/default/sa/productpage"),
            CertificateAuthority.Usage.SERVER_AND_CLIENT,
            Duration.ofHours(24));
    workload = leaf.certificate();
    KeyPair oldKeys = CertificateAuthority.newKeys();
    // Valid from two hours ago until an hour ago.
    expired =
        ca.sign(
            oldKeys.getPublic(),
            null,
            List.of(),
            List.of("spiffe://cluster.local/ns/default/sa/old"),
            CertificateAuthority.Usage.SERVER_AND_CLIENT,
            Duration.ofHours(-1),
            Duration.ofHours(2));
    int adminPort = freePort();
    admin = "http://127.0.0.1:" + adminPort;
    Path bootstrap = dir.resolve("bootstrap.yaml");
    Files.writeString(
        bootstrap,
        """
        node: {id: "sidecar~127.0.0.1~productpage-1.default~default.svc.cluster.local", cluster: productpage.default}
        admin:
          address: {socket_address: {address: 127.0.0.1, port_value: %d}}
        static_resources:
          secrets:
          - name: default
            tls_certificate:
              certificate_chain: {inline_string: %s}
              private_key: {inline_string: %s}
          - name: ROOTCA
            validation_context:
              trusted_ca: {inline_string: %s}
          - name: expired
            tls_certificate:
              certificate_chain: {inline_string: %s}
              private_key: {inline_string: %s}
          listeners:
          - name: virtualInbound
            address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: inbound
                  route_config:
                    virtual_hosts:
                    - name: inbound
                      domains: ["*"]
                      routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]
                  http_filters:
                  - name: envoy.filters.http.rbac
                    typed_config:
                      "@type": %s
                      rules:
                        action: DENY
                        policies:
                          ns[default]-policy[deny-delete]-rule[0]:
                            permissions: [{header: {name: ":method", string_match: {exact: DELETE}}}]
                            principals: [{any: true}]
                  - name: envoy.filters.http.rbac
                    typed_config:
                      "@type": %s
                      rules:
                        action: ALLOW
                        policies:
                          ns[default]-policy[allow-get]-rule[0]:
                            permissions: [{header: {name: ":method", string_match: {exact: GET}}}]
                            principals: [{any: true}]
                          ns[default]-policy[allow-get]-rule[1]:
                            permissions: [{url_path: {path: {prefix: /public}}}]
                            principals: [{any: true}]
                          ns[mesh-system]-policy[mesh-wide]-rule[0]:
                            permissions: [{any: true}]
                            principals: [{authenticated: {principal_name: {exact: "spiffe://cluster.local/ns/mesh-system/sa/prober"}}}]
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          - name: 0.0.0.0_9091
            address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.rbac
                typed_config:
                  "@type": %s
                  stat_prefix: tcp.
                  rules:
                    action: LOG
                    policies:
                      ns[default]-policy[audit-tcp]-rule[0]:
                        permissions: [{any: true}]
                        principals: [{any: true}]
              - name: envoy.filters.network.rbac
                typed_config:
                  "@type": %s
                  stat_prefix: tcp.
                  rules:
                    action: ALLOW
                    policies:
                      ns[default]-policy[allow-get]-rule[1]:
                        permissions: [{destination_port: 9091}]
                        principals: [{any: true}]
              - name: envoy.filters.network.rbac
                typed_config:
                  "@type": %s
                  stat_prefix: tcp.
                  rules: {action: ALLOW}
              - name: envoy.filters.network.tcp_proxy
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                  stat_prefix: tcp
                  cluster: nowhere
          clusters:
          - name: nowhere
            type: STATIC
            connect_timeout: 1s
            load_assignment:
              cluster_name: nowhere
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}}]}]
          # A cluster whose certificate comes from an SDS server that is not there: warming for ever.
          - name: outbound|9080||reviews.default.svc.cluster.local
            type: STATIC
            connect_timeout: 1s
            load_assignment:
              cluster_name: reviews
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 1}}}}]}]
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                common_tls_context:
                  tls_certificate_sds_secret_configs:
                  - name: "spiffe://cluster.local/ns/default/sa/pending"
                    sds_config:
                      api_config_source:
                        api_type: GRPC
                        transport_api_version: V3
                        grpc_services: [{envoy_grpc: {cluster_name: sds-grpc}}]
                      initial_fetch_timeout: 1s
                      resource_api_version: V3
          - name: sds-grpc
            type: STATIC
            connect_timeout: 1s
            typed_extension_protocol_options:
              envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                explicit_http_config: {http2_protocol_options: {}}
            load_assignment:
              cluster_name: sds-grpc
              endpoints: [{lb_endpoints: [{endpoint: {address: {pipe: {path: "%s"}}}}]}]
        """
            .formatted(
                adminPort,
                quoted(leaf.certificatePem() + ca.certificatePem()),
                quoted(leaf.keyPem()),
                quoted(ca.certificatePem()),
                quoted(CertificateAuthority.pem(expired)),
                quoted(CertificateAuthority.pem(oldKeys.getPrivate())),
                HTTP_RBAC,
                HTTP_RBAC,
                TCP_RBAC,
                TCP_RBAC,
                TCP_RBAC,
                dir.resolve("no-agent.sock")));
    proxy =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                dev.mesh.local.Build.jar("mesh-proxy", "mesh-proxy.jar").toString(),
                "-c",
                bootstrap.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("proxy.log").toFile())
            .start();
    assertThat(
            dev.mesh.local.Build.eventually(
                () ->
                    meshctl("proxy-config", "secret", "productpage-1.default", "--admin-url", admin)
                        .out()
                        .contains("WARMING"),
                Duration.ofSeconds(60)))
        .as("the proxy serves its admin; its log:\n%s", log())
        .isTrue();
  }

  @AfterAll
  static void stop() throws Exception {
    if (proxy != null) {
      proxy.destroy();
      proxy.waitFor(10, TimeUnit.SECONDS);
      proxy.destroyForcibly();
    }
  }

  static String log() {
    try {
      return Files.readString(dir.resolve("proxy.log"));
    } catch (IOException e) {
      return "";
    }
  }

  static String row(String name, String type, String status, boolean valid, X509Certificate c) {
    return Pattern.quote(name)
        + " +"
        + Pattern.quote(type)
        + " +"
        + status
        + " +"
        + valid
        + " +"
        + c.getSerialNumber().toString(16)
        + " +"
        + Pattern.quote(c.getNotAfter().toInstant().toString())
        + " +"
        + Pattern.quote(c.getNotBefore().toInstant().toString());
  }

  @Test
  void secretShowsEachCertificateAsIstioctlDoes() {
    MeshctlRun r = meshctl("proxy-config", "secret", "productpage-1.default", "--admin-url", admin);
    assertThat(r.code()).as(r.err()).isZero();
    List<String> lines = r.out().lines().toList();
    assertThat(lines).hasSize(5);
    // Warming first, then what is in force; columns five blanks beyond their widest cell.
    String pending = "spiffe://cluster.local/ns/default/sa/pending";
    int serialWidth =
        java.util.stream.Stream.of(workload, ca.certificate(), expired)
            .mapToInt(c -> c.getSerialNumber().toString(16).length())
            .max()
            .getAsInt();
    assertThat(lines.get(0))
        .isEqualTo(
            "RESOURCE NAME"
                + " ".repeat(pending.length() + 5 - 13)
                + "TYPE           STATUS      VALID CERT     SERIAL NUMBER"
                + " ".repeat(serialWidth + 5 - 13)
                + "NOT AFTER"
                + " ".repeat(20 + 5 - 9)
                + "NOT BEFORE");
    assertThat(lines.get(1)).matches(Pattern.quote(pending) + " +WARMING +false");
    assertThat(lines.get(1).indexOf("WARMING")).isEqualTo(lines.get(0).indexOf("STATUS"));
    assertThat(lines.get(2)).matches(row("default", "Cert Chain", "ACTIVE", true, workload));
    assertThat(lines.get(3)).matches(row("ROOTCA", "CA", "ACTIVE", true, ca.certificate()));
    assertThat(lines.get(4)).matches(row("expired", "Cert Chain", "ACTIVE", false, expired));
    for (String line : lines.subList(2, 5)) {
      assertThat(line.indexOf(" ACTIVE ") + 1).isEqualTo(lines.get(0).indexOf("STATUS"));
    }
    // Serials as istioctl prints them: lower-case hex, no separators, no leading zeros.
    assertThat(lines.get(2).split(" {2,}")[4])
        .matches("[0-9a-f]+")
        .isEqualTo(workload.getSerialNumber().toString(16));
  }

  @Test
  void secretAsJsonIsTheDumpsSecretsSection() {
    MeshctlRun r =
        meshctl(
            "proxy-config", "secrets", "productpage-1.default", "--admin-url", admin, "-o", "json");
    assertThat(r.code()).as(r.err()).isZero();
    JsonNode section = JsonMapper.builder().build().readTree(r.out());
    assertThat(section.path("@type").asString()).endsWith("envoy.admin.v3.SecretsConfigDump");
    assertThat(section.path("static_secrets").size()).isEqualTo(3);
    assertThat(section.path("dynamic_warming_secrets").get(0).path("name").asString())
        .isEqualTo("spiffe://cluster.local/ns/default/sa/pending");
    assertThat(r.out()).doesNotContain("PRIVATE KEY");
  }

  static final String AUTHZ =
      """
      ACTION   AuthorizationPolicy         RULES
      DENY     deny-delete.default         1
      ALLOW    _anonymous_match_nothing_   1
      ALLOW    allow-get.default           2
      ALLOW    mesh-wide.mesh-system       1
      LOG      audit-tcp.default           1
      """;

  @Test
  void authzCheckGroupsTheRbacPoliciesOfEveryListenerByPolicy() throws Exception {
    MeshctlRun r = meshctl("x", "authz", "check", "productpage-1.default", "--admin-url", admin);
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).isEqualTo(AUTHZ);
    // The same from a saved config dump, and under the long name.
    Path dump = dir.resolve("config_dump.json");
    Files.writeString(dump, ProxyStatusCommand.get(URI.create(admin + "/config_dump")));
    MeshctlRun fromFile = meshctl("experimental", "authz", "check", "-f", dump.toString());
    assertThat(fromFile.code()).as(fromFile.err()).isZero();
    assertThat(fromFile.out()).isEqualTo(AUTHZ);
  }

  @Test
  void aDumpThatIsNotOneIsOneLineOfError() throws Exception {
    Path notJson = dir.resolve("not.json");
    Files.writeString(notJson, "configs: [");
    MeshctlRun r = meshctl("x", "authz", "check", "-f", notJson.toString());
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).startsWith("meshctl x authz check: ").doesNotContain("Exception");
    assertThat(r.err().lines()).hasSize(1);
    MeshctlRun none = meshctl("x", "authz", "check", "-f", dir.resolve("missing.json").toString());
    assertThat(none.code()).isEqualTo(1);
    assertThat(none.err()).contains("cannot read").doesNotContain("Exception");
  }
}
