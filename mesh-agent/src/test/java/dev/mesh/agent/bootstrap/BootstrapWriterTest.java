package dev.mesh.agent.bootstrap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.agent.config.AgentSettings;
import dev.mesh.proxy.config.BootstrapLoader;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BootstrapWriterTest {
  @Test
  void istiosSdsClusterOnTheAgentsSocketAndTheProxyAcceptsIt(@TempDir Path dir) {
    AgentSettings s =
        AgentSettings.fromEnvironment(
            Map.of(
                "POD_NAME", "sleep-1",
                "POD_NAMESPACE", "default",
                "INSTANCE_IP", "10.44.0.9",
                "MESH_CONFIG_DIR", dir.toString()));
    Bootstrap read = BootstrapLoader.load(BootstrapWriter.write(s), null);
    Cluster sds =
        read.getStaticResources().getClustersList().stream()
            .filter(c -> c.getName().equals("sds-grpc"))
            .findFirst()
            .orElseThrow();
    assertThat(sds.getType()).isEqualTo(Cluster.DiscoveryType.STATIC);
    assertThat(sds.hasHttp2ProtocolOptions()).isTrue();
    assertThat(
            sds.getLoadAssignment()
                .getEndpoints(0)
                .getLbEndpoints(0)
                .getEndpoint()
                .getAddress()
                .getPipe()
                .getPath())
        .isEqualTo("/var/run/secrets/workload-spiffe-uds/socket");
  }

  @Test
  void pilotOn15012IsReachedOverMutualTlsWithTheAgentsSecrets(@TempDir Path dir) throws Exception {
    Bootstrap read = written(dir, "mesh-pilot.mesh-system.svc:15012", true);
    Cluster xds = cluster(read, "xds-grpc");
    assertThat(xds.getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);
    assertThat(xds.getTransportSocket().getName()).isEqualTo("envoy.transport_sockets.tls");
    UpstreamTlsContext tls =
        xds.getTransportSocket().getTypedConfig().unpack(UpstreamTlsContext.class);
    assertThat(tls.getSni()).isEqualTo("mesh-pilot.mesh-system.svc");
    CommonTlsContext common = tls.getCommonTlsContext();
    assertThat(common.getAlpnProtocolsList()).containsExactly("h2");
    assertThat(common.getTlsCertificateSdsSecretConfigsList())
        .singleElement()
        .satisfies(
            c -> {
              assertThat(c.getName()).isEqualTo("default");
              assertThat(sdsCluster(c.getSdsConfig())).isEqualTo("sds-grpc");
            });
    var validation = common.getCombinedValidationContext();
    assertThat(validation.getValidationContextSdsSecretConfig().getName()).isEqualTo("ROOTCA");
    assertThat(sdsCluster(validation.getValidationContextSdsSecretConfig().getSdsConfig()))
        .isEqualTo("sds-grpc");
    assertThat(validation.getDefaultValidationContext().getMatchTypedSubjectAltNamesList())
        .singleElement()
        .satisfies(
            m -> {
              assertThat(m.getSanType()).isEqualTo(SubjectAltNameMatcher.SanType.DNS);
              assertThat(m.getMatcher().getExact()).isEqualTo("mesh-pilot.mesh-system.svc");
            });
  }

  @Test
  void anIpAddressIsMatchedAsAnIpSanAndSendsNoSni(@TempDir Path dir) throws Exception {
    UpstreamTlsContext tls =
        cluster(written(dir, "10.96.0.12:15012", true), "xds-grpc")
            .getTransportSocket()
            .getTypedConfig()
            .unpack(UpstreamTlsContext.class);
    assertThat(tls.getSni()).isEmpty();
    assertThat(
            tls.getCommonTlsContext()
                .getCombinedValidationContext()
                .getDefaultValidationContext()
                .getMatchTypedSubjectAltNames(0)
                .getSanType())
        .isEqualTo(SubjectAltNameMatcher.SanType.IP_ADDRESS);
  }

  @Test
  void plaintextWhereThereIsNoCertificateOrThePortIs15010OrAUnixSocket(@TempDir Path dir) {
    assertThat(
            cluster(written(dir, "mesh-pilot.mesh-system.svc:15012", false), "xds-grpc")
                .hasTransportSocket())
        .as("no token and no CA_ADDR: no certificate to present")
        .isFalse();
    assertThat(
            cluster(written(dir, "mesh-pilot.mesh-system.svc:15010", true), "xds-grpc")
                .hasTransportSocket())
        .as("15010 is pilot's plaintext port")
        .isFalse();
    assertThat(
            cluster(written(dir, "unix:///tmp/pilot.sock", true), "xds-grpc").hasTransportSocket())
        .as("the local mesh's socket: file permissions are the boundary")
        .isFalse();
  }

  /** The bootstrap as the proxy reads it back, for pilot at {@code discovery}. */
  private static Bootstrap written(Path dir, String discovery, boolean caAddr) {
    Map<String, String> env = new HashMap<>();
    env.put("POD_NAME", "sleep-1");
    env.put("POD_NAMESPACE", "default");
    env.put("INSTANCE_IP", "10.44.0.9");
    env.put("MESH_CONFIG_DIR", dir.toString());
    env.put("MESH_TOKEN_PATH", dir.resolve("no-token").toString());
    env.put("PROXY_CONFIG", "{\"discoveryAddress\": \"" + discovery + "\"}");
    if (caAddr) {
      env.put("CA_ADDR", "mesh-pilot.mesh-system.svc:15012");
    }
    return BootstrapLoader.load(BootstrapWriter.write(AgentSettings.fromEnvironment(env)), null);
  }

  private static Cluster cluster(Bootstrap b, String name) {
    return b.getStaticResources().getClustersList().stream()
        .filter(c -> c.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }

  private static String sdsCluster(ConfigSource source) {
    return source.getApiConfigSource().getGrpcServices(0).getEnvoyGrpc().getClusterName();
  }
}
