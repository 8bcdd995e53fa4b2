package dev.mesh.agent.sds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.agent.AgentApplication;
import dev.mesh.agent.identity.PilotCaProcess;
import dev.mesh.agent.identity.PilotCaUnderTest;
import dev.mesh.local.Build;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.security.Pem;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent as the istio-proxy container runs it (`mesh-agent proxy sidecar`, its own process, its
 * environment as the injector sets it, the token and root in files) in a pod's network namespace,
 * with pilot's CA beside it on 127.0.0.1:15012: the proxy's SDS socket serves the certificate the
 * CA gave for the token's identity, and a renewed one after a rotation. As root (CI is root).
 */
class AgentSdsInAPodTest {
  static final Duration WITHIN = Duration.ofSeconds(90);

  @Test
  void theAgentsSocketServesItsCertificateAndRenewsIt(@TempDir Path dir) throws Exception {
    Files.setPosixFilePermissions(
        dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    Path token = dir.resolve("istio-token");
    Files.writeString(token, PilotCaUnderTest.SLEEP_TOKEN);
    Path root = dir.resolve("root-cert.pem");
    Path socket = dir.resolve("sds/socket");
    Path caLog = dir.resolve("ca.log");
    Path agentLog = dir.resolve("agent.log");
    try (NetworkNamespace pod = NetworkNamespace.create("agent-sds")) {
      pod.start(
          List.of(
              NetworkNamespace.javaBinary(),
              "-XX:TieredStopAtLevel=1",
              "-cp",
              System.getProperty("java.class.path"),
              PilotCaProcess.class.getName(),
              "15012",
              root.toString()),
          caLog);
      assertThat(Build.eventually(() -> Files.exists(root), WITHIN))
          .as("the CA's root; its log:\n%s", read(caLog))
          .isTrue();
      Map<String, String> env = new TreeMap<>();
      env.put("POD_NAME", "sleep-1");
      env.put("POD_NAMESPACE", "default");
      env.put("INSTANCE_IP", "127.0.0.1");
      env.put("SERVICE_ACCOUNT", "sleep");
      env.put(
          "PROXY_CONFIG",
          "{\"discoveryAddress\": \"unix://" + dir.resolve("no-pilot.sock") + "\"}");
      env.put("CA_ADDR", "127.0.0.1:15012");
      env.put("SECRET_TTL", "4s");
      env.put("MESH_TOKEN_PATH", token.toString());
      env.put("MESH_CA_ROOT_CERT", root.toString());
      env.put("MESH_SDS_SOCKET", socket.toString());
      env.put("MESH_CONFIG_DIR", dir.resolve("proxy").toString());
      List<String> cmd = new ArrayList<>(List.of("env"));
      env.forEach((k, v) -> cmd.add(k + "=" + v));
      cmd.addAll(
          List.of(
              NetworkNamespace.javaBinary(),
              "-XX:TieredStopAtLevel=1",
              "-XX:+UseSerialGC",
              "-Xmx64m",
              "-cp",
              System.getProperty("java.class.path"),
              AgentApplication.class.getName(),
              "proxy",
              "sidecar"));
      Process agent = pod.start(cmd, agentLog);
      assertThat(Build.eventually(() -> Files.exists(socket) || !agent.isAlive(), WITHIN)).isTrue();
      assertThat(agent.isAlive()).as("the agent runs; its log:\n%s", read(agentLog)).isTrue();

      try (SdsClient client = new SdsClient(socket)) {
        var stream = client.sotw();
        stream.send(SdsClient.request("", "", "default", "ROOTCA"));
        DiscoveryResponse first = stream.await(r -> r.getResourcesCount() == 2, WITHIN);
        Map<String, Secret> secrets = SdsServerTest.byName(SdsClient.secrets(first));
        var leaf = SdsServerTest.checkWorkload(secrets.get("default"));
        assertThat(
                SdsServerTest.text(
                    secrets.get("ROOTCA").getValidationContext().getTrustedCa().getInlineBytes()))
            .isEqualTo(Files.readString(root, StandardCharsets.UTF_8));
        leaf.verify(Pem.certificate(Files.readString(root)).getPublicKey());
        stream.send(
            SdsClient.request(first.getVersionInfo(), first.getNonce(), "default", "ROOTCA"));
        stream.await(
            r ->
                SdsClient.secrets(r).stream()
                    .anyMatch(
                        s ->
                            s.getName().equals("default")
                                && !SdsServerTest.serial(s).equals(leaf.getSerialNumber())),
            WITHIN);
      }
      assertThat(read(agentLog))
          .contains("SDS on unix://" + socket)
          .contains(
              "workload certificate [" + PilotCaUnderTest.SLEEP_ID + "] from CA 127.0.0.1:15012")
          .doesNotContain("Exception\n\tat ");
    }
  }

  static String read(Path p) {
    try {
      return Files.exists(p) ? Files.readString(p) : "";
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }
}
