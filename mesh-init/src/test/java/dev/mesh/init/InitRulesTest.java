package dev.mesh.init;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.ReadableCopy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** mesh-init run as a process in a network namespace of its own, as it runs in a pod. */
class InitRulesTest {
  @TempDir Path dir;

  static Host.Result init(NetworkNamespace ns, String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                NetworkNamespace.javaBinary(),
                "-cp",
                NetworkNamespace.classPath(),
                "dev.mesh.init.Main"));
    cmd.addAll(List.of(args));
    return ns.exec(cmd.toArray(String[]::new));
  }

  /** The rules and user chains of a backend, without counters: what a run may change. */
  static List<String> rules(NetworkNamespace ns, String backend) {
    return ns.exec("iptables-" + backend + "-save")
        .orThrow("save")
        .stdout()
        .lines()
        .filter(l -> l.startsWith("-A ") || l.startsWith(":ISTIO") || l.startsWith("-N "))
        .toList();
  }

  @ParameterizedTest(name = "{0} backend, {1}")
  @CsvSource({"nft, REDIRECT", "nft, TPROXY", "legacy, REDIRECT", "legacy, TPROXY"})
  void runningTwiceLeavesOneSetAndCleanupRemovesExactlyOurs(String backend, String mode) {
    try (NetworkNamespace ns =
        NetworkNamespace.create("init-" + backend + "-" + mode.toLowerCase())) {
      // Someone else's rules, which must survive everything below.
      ns.exec(
              "iptables-" + backend,
              "-t",
              "nat",
              "-A",
              "OUTPUT",
              "-p",
              "udp",
              "--dport",
              "9",
              "-j",
              "ACCEPT")
          .orThrow("foreign nat rule");
      ns.exec(
              "iptables-" + backend,
              "-t",
              "mangle",
              "-A",
              "PREROUTING",
              "-p",
              "tcp",
              "--dport",
              "7",
              "-j",
              "MARK",
              "--set-mark",
              "7")
          .orThrow("foreign mangle rule");
      List<String> before = rules(ns, backend);

      String[] args = {"-m", mode, "-i", "*", "-b", "*", "--backend", backend};
      assertThat(init(ns, args).orThrow("first run").stdout()).contains("outbound TCP to 15001");
      List<String> once = rules(ns, backend);
      assertThat(once).containsAll(before);
      assertThat(once.stream().filter(l -> l.contains("-j ISTIO_OUTPUT"))).hasSize(1);
      init(ns, args).orThrow("second run");
      assertThat(rules(ns, backend)).isEqualTo(once);
      if (mode.equals("TPROXY")) {
        assertThat(ns.exec("ip", "rule").stdout()).containsOnlyOnce("fwmark 0x539 lookup 133");
      }

      assertThat(init(ns, "--cleanup", "--backend", backend).orThrow("cleanup").stdout())
          .contains("removed");
      assertThat(rules(ns, backend)).isEqualTo(before);
      assertThat(ns.exec("ip", "rule").stdout()).doesNotContain("lookup 133");
    }
  }

  @Test
  void aDryRunPrintsTheRulesAndChangesNothing() {
    try (NetworkNamespace ns = NetworkNamespace.create("init-dry")) {
      List<String> before = rules(ns, "nft");
      Host.Result r =
          init(
              ns, "--dry-run", "-m", "TPROXY", "-i", "10.0.0.0/8", "-x", "10.9.0.0/16", "-d", "22");
      assertThat(r.exitCode()).isZero();
      assertThat(r.stdout())
          .contains("-A ISTIO_OUTPUT -d 10.9.0.0/16 -j RETURN")
          .contains("-A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT")
          .contains("-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN")
          .contains("--on-port 15006")
          .contains("ip -f inet rule add fwmark 1337 lookup 133");
      assertThat(rules(ns, "nft")).isEqualTo(before);
    }
  }

  @Test
  void withoutNetAdminItSaysWhatItNeedsAndChangesNothing() {
    try (NetworkNamespace ns = NetworkNamespace.create("init-nocap")) {
      List<String> cmd =
          List.of(
              "setpriv",
              "--reuid",
              "1000",
              "--regid",
              "1000",
              "--clear-groups",
              "--inh-caps=-all",
              NetworkNamespace.javaBinary(),
              "-cp",
              ReadableCopy.classPath(),
              "dev.mesh.init.Main",
              "--backend",
              "nft");
      Host.Result r = ns.exec(cmd.toArray(String[]::new));
      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.stderr()).contains("needs CAP_NET_ADMIN").doesNotContain("Exception");
      assertThat(rules(ns, "nft")).isEmpty();
    }
  }

  @Test
  void withoutIptablesItSaysWhatToInstall() {
    try (NetworkNamespace ns = NetworkNamespace.create("init-notools")) {
      Host.Result r =
          ns.exec(
              "env",
              "PATH=/nonexistent",
              NetworkNamespace.javaBinary(),
              "-cp",
              NetworkNamespace.classPath(),
              "dev.mesh.init.Main");
      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.stderr()).contains("install iptables").doesNotContain("Exception");
    }
  }

  @Test
  void aFailureAfterTheTablesWereWrittenLeavesNoRules() throws Exception {
    // iptables is there, ip is not: the tables go in, TPROXY's routing cannot follow.
    Path bin = Files.createDirectories(dir.resolve("bin"));
    for (String tool :
        List.of("iptables", "iptables-nft-save", "iptables-nft-restore", "iptables-legacy-save")) {
      Files.createSymbolicLink(bin.resolve(tool), Path.of("/usr/sbin", tool).toRealPath());
    }
    try (NetworkNamespace ns = NetworkNamespace.create("init-partial")) {
      Host.Result r =
          ns.exec(
              "env",
              "PATH=" + bin,
              NetworkNamespace.javaBinary(),
              "-cp",
              NetworkNamespace.classPath(),
              "dev.mesh.init.Main",
              "-m",
              "TPROXY",
              "--backend",
              "nft");
      assertThat(r.exitCode()).isEqualTo(1);
      assertThat(r.stderr()).contains("nothing was left applied");
      assertThat(rules(ns, "nft")).isEmpty();
    }
  }

  @Test
  void badFlagsAreNamed() {
    try (NetworkNamespace ns = NetworkNamespace.create("init-flags")) {
      Host.Result r = init(ns, "-i", "10.0.0.300/8");
      assertThat(r.exitCode()).isEqualTo(2);
      assertThat(r.stderr()).contains("-i").contains("10.0.0.300/8");
      assertThat(init(ns, "-m", "SIDEWAYS").stderr()).contains("-m must be REDIRECT or TPROXY");
      assertThat(init(ns, "-b", "80,99999").stderr()).contains("-b takes ports");
    }
  }
}
