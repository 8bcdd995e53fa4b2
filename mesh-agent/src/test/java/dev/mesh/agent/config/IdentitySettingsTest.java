package dev.mesh.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdentitySettingsTest {
  static Map<String, String> pod(String... more) {
    Map<String, String> env = new HashMap<>();
    env.put("POD_NAME", "sleep-1");
    env.put("POD_NAMESPACE", "default");
    env.put("INSTANCE_IP", "10.44.0.9");
    for (int i = 0; i < more.length; i += 2) {
      env.put(more[i], more[i + 1]);
    }
    return env;
  }

  @Test
  void istiosDefaults() {
    IdentitySettings s = AgentSettings.fromEnvironment(pod()).identity();
    assertThat(s.caAddress()).isEqualTo("mesh-pilot.mesh-system.svc:15012");
    assertThat(s.caAddressSet()).isFalse();
    assertThat(s.tokenPath()).hasToString("/var/run/secrets/tokens/istio-token");
    assertThat(s.rootCertPath()).hasToString("/var/run/secrets/istio/root-cert.pem");
    assertThat(s.sdsSocket()).hasToString("/var/run/secrets/workload-spiffe-uds/socket");
    assertThat(s.secretTtl()).isEqualTo(Duration.ofHours(24));
    assertThat(s.gracePeriodRatio()).isEqualTo(0.5);
    assertThat(s.trustDomain()).isEqualTo("cluster.local");
  }

  @Test
  void theCaFollowsTheDiscoveryHostUnlessCaAddrSaysOtherwise() {
    assertThat(
            AgentSettings.fromEnvironment(
                    pod(
                        "PROXY_CONFIG",
                        "{\"discoveryAddress\": \"istiod.istio-system.svc:15010\"}"))
                .identity()
                .caAddress())
        .isEqualTo("istiod.istio-system.svc:15012");
    IdentitySettings set =
        AgentSettings.fromEnvironment(pod("CA_ADDR", "ca.example:9443")).identity();
    assertThat(set.caAddress()).isEqualTo("ca.example:9443");
    assertThat(set.caAddressSet()).isTrue();
    assertThat(
            AgentSettings.fromEnvironment(
                    pod("PROXY_CONFIG", "{\"discoveryAddress\": \"unix:///tmp/pilot.sock\"}"))
                .identity()
                .caAddress())
        .isNull();
  }

  @Test
  void enabledByATokenOrCaAddr(@TempDir Path dir) throws Exception {
    Path token = dir.resolve("istio-token");
    IdentitySettings s =
        AgentSettings.fromEnvironment(pod("MESH_TOKEN_PATH", token.toString())).identity();
    assertThat(s.enabled()).isFalse();
    Files.writeString(token, "t");
    assertThat(s.enabled()).isTrue();
    assertThat(AgentSettings.fromEnvironment(pod("CA_ADDR", "ca:15012")).identity().enabled())
        .isTrue();
  }

  @Test
  void istiosVariables() {
    IdentitySettings s =
        AgentSettings.fromEnvironment(
                pod(
                    "SECRET_TTL",
                    "1h30m",
                    "SECRET_GRACE_PERIOD_RATIO",
                    "0.25",
                    "TRUST_DOMAIN",
                    "td"))
            .identity();
    assertThat(s.secretTtl()).isEqualTo(Duration.ofMinutes(90));
    assertThat(s.gracePeriodRatio()).isEqualTo(0.25);
    assertThat(s.trustDomain()).isEqualTo("td");
  }

  @Test
  void badValuesAreNamed() {
    assertThatThrownBy(() -> AgentSettings.fromEnvironment(pod("SECRET_TTL", "a day")))
        .hasMessage("SECRET_TTL must be a duration such as 24h or 90s, got 'a day'");
    assertThatThrownBy(() -> AgentSettings.fromEnvironment(pod("SECRET_GRACE_PERIOD_RATIO", "2")))
        .hasMessage("SECRET_GRACE_PERIOD_RATIO must be a number from 0 to 1, got '2'");
  }
}
