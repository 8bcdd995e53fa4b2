package dev.mesh.agent;

import static dev.mesh.agent.SidecarPods.B_IP;
import static dev.mesh.agent.SidecarPods.CLUSTER_IP;
import static dev.mesh.agent.SidecarPods.accepted;
import static dev.mesh.agent.SidecarPods.call;
import static dev.mesh.agent.SidecarPods.outbound;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.NamespaceHttp;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Transparent capture, both sides: pod A's app calls pod B by its IP and by service b's cluster IP;
 * with mesh-init's rules the call goes through A's virtualOutbound (15001) and B's virtualInbound
 * (15006), seen in their proxies' counters; without them (the control run, same proxies running)
 * the counters stay at zero.
 */
class CaptureTest {
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"REDIRECT", "TPROXY"})
  void anAppsCallsGoThroughBothSidecars(String mode) throws Exception {
    try (SidecarPods pods = new SidecarPods("cap-" + mode.toLowerCase())) {
      Map<String, String> env = Map.of("ISTIO_META_INTERCEPTION_MODE", mode);
      pods.startBoth(env);
      // The istio-proxy container's identity: in TPROXY mode root with gid 1337 and NET_ADMIN
      // alone (the transparent listener needs it), else uid and gid 1337 with nothing.
      ProcessHandle sidecar = pods.agents.get("b-1").toHandle();
      boolean tproxy = mode.equals("TPROXY");
      assertThat(SidecarPods.procStatus(sidecar, "Uid")).startsWith(tproxy ? "0\t" : "1337\t");
      assertThat(SidecarPods.procStatus(sidecar, "Gid")).isEqualTo("1337\t1337\t1337\t1337");
      assertThat(SidecarPods.procStatus(sidecar, "CapEff"))
          .isEqualTo(tproxy ? "0000000000001000" : "0000000000000000");

      // Control: sidecars running, no rules. Traffic flows directly; the sidecars see none of it.
      assertThat(call(pods.a, B_IP, 8080, "/direct", "b").stdout())
          .contains("echo 0.0.0.0:8080 /direct");
      assertThat(call(pods.a, CLUSTER_IP, 80, "/vip", "b").stdout())
          .contains("echo 0.0.0.0:8080 /vip");
      assertThat(outbound(pods.a)).isZero();
      assertThat(accepted(pods.b, 15006)).isZero();

      pods.init(pods.a, "-m", mode).orThrow("mesh-init in A");
      pods.init(pods.b, "-m", mode).orThrow("mesh-init in B");

      assertThat(call(pods.a, B_IP, 8080, "/pod-ip", "b").stdout())
          .contains("echo 0.0.0.0:8080 /pod-ip");
      assertThat(outbound(pods.a)).isEqualTo(1);
      assertThat(accepted(pods.b, 15006)).isEqualTo(1);
      assertThat(call(pods.a, CLUSTER_IP, 80, "/cluster-ip", "b").stdout())
          .contains("echo 0.0.0.0:8080 /cluster-ip");
      // One each: the proxy's own upstream connection (uid 1337, or gid 1337 in TPROXY mode, where
      // the sidecar runs as root) was not captured again.
      assertThat(outbound(pods.a)).isEqualTo(2);
      assertThat(accepted(pods.b, 15006)).isEqualTo(2);

      // The sidecar's own ports are never captured inbound: B's agent answers A's app itself.
      for (int own : new int[] {15021, 15020, 15090}) {
        String path = own == 15021 ? "/healthz/ready" : "/stats/prometheus";
        assertThat(call(pods.a, B_IP, own, path, "b").stdout())
            .as("port %d", own)
            .contains(" 200 ");
      }
      assertThat(accepted(pods.b, 15006)).isEqualTo(2);
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"REDIRECT"})
  void excludedAndIncludedPortsAndCidrsAreHonoured(String mode) throws Exception {
    try (SidecarPods pods = new SidecarPods("flags")) {
      pods.startBoth(Map.of());
      pods.init(pods.b, "-m", mode).orThrow("mesh-init in B");

      long out = 0;
      long in = 0;
      // Outbound port 8080 excluded: A does not capture, B still does.
      pods.init(pods.a, "-m", mode, "-o", "8080").orThrow("-o");
      assertThat(call(pods.a, B_IP, 8080, "/o", "b").stdout()).contains("/o");
      assertThat(outbound(pods.a)).isEqualTo(out);
      assertThat(accepted(pods.b, 15006)).isEqualTo(++in);

      // B's address excluded by CIDR.
      pods.init(pods.a, "-m", mode, "-x", B_IP + "/32").orThrow("-x");
      assertThat(call(pods.a, B_IP, 8080, "/x", "b").stdout()).contains("/x");
      assertThat(outbound(pods.a)).isEqualTo(out);
      assertThat(accepted(pods.b, 15006)).isEqualTo(++in);

      // Only cluster IPs captured: the pod IP is not, the cluster IP is.
      pods.init(pods.a, "-m", mode, "-i", "10.96.0.0/16").orThrow("-i");
      assertThat(call(pods.a, B_IP, 8080, "/i-pod", "b").stdout()).contains("/i-pod");
      assertThat(outbound(pods.a)).isEqualTo(out);
      assertThat(accepted(pods.b, 15006)).isEqualTo(++in);
      assertThat(call(pods.a, CLUSTER_IP, 80, "/i-vip", "b").stdout()).contains("/i-vip");
      assertThat(outbound(pods.a)).isEqualTo(++out);
      assertThat(accepted(pods.b, 15006)).isEqualTo(++in);

      // No CIDR captured, but port 8080 included.
      pods.init(pods.a, "-m", mode, "-i", "", "-q", "8080").orThrow("-q");
      assertThat(call(pods.a, B_IP, 8080, "/q", "b").stdout()).contains("/q");
      assertThat(outbound(pods.a)).isEqualTo(++out);
      assertThat(accepted(pods.b, 15006)).isEqualTo(++in);

      // Inbound: B excludes 8080, then captures only 9090: 8080 arrives uncaptured both times.
      pods.init(pods.a, "-m", mode, "-x", B_IP + "/32").orThrow("A without outbound capture");
      pods.init(pods.b, "-m", mode, "-d", "8080").orThrow("-d");
      assertThat(call(pods.a, B_IP, 8080, "/d", "b").stdout()).contains("/d");
      assertThat(accepted(pods.b, 15006)).isEqualTo(in);
      pods.init(pods.b, "-m", mode, "-b", "9090").orThrow("-b");
      assertThat(call(pods.a, B_IP, 8080, "/b", "b").stdout()).contains("/b");
      assertThat(accepted(pods.b, 15006)).isEqualTo(in);

      // --cleanup: nothing captured any more, on either side.
      pods.init(pods.a, "--cleanup").orThrow("cleanup A");
      pods.init(pods.b, "--cleanup").orThrow("cleanup B");
      assertThat(call(pods.a, CLUSTER_IP, 80, "/clean", "b").stdout()).contains("/clean");
      assertThat(outbound(pods.a)).isEqualTo(out);
      assertThat(accepted(pods.b, 15006)).isEqualTo(in);
      assertThat(
              NamespaceHttp.request(pods.a, 0, "127.0.0.1", 15021, "GET /healthz/ready").stdout())
          .contains(" 200 ");
    }
  }
}
