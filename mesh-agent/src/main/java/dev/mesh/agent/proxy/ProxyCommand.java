package dev.mesh.agent.proxy;

import dev.mesh.agent.config.AgentSettings;
import dev.mesh.api.ProxyUser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The proxy's command line: the sidecar JVM flags, the jar, the bootstrap, the drain time; run as
 * uid and gid 1337 (the identity capture exempts) when the agent is root, through setpriv. In
 * TPROXY mode it keeps CAP_NET_ADMIN, which its transparent listener needs, as Istio's does.
 */
public final class ProxyCommand {
  private ProxyCommand() {}

  public static List<String> of(AgentSettings s, Path bootstrap, boolean agentIsRoot) {
    List<String> cmd = new ArrayList<>();
    if (agentIsRoot) {
      cmd.addAll(
          List.of(
              "setpriv", "--reuid=" + ProxyUser.UID, "--regid=" + ProxyUser.GID, "--clear-groups"));
      if (s.interceptionMode().equals("TPROXY")) {
        cmd.addAll(List.of("--inh-caps=+net_admin", "--ambient-caps=+net_admin"));
      } else {
        cmd.add("--inh-caps=-all");
      }
    }
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String flag : s.proxyJvmFlags().trim().split("\\s+")) {
      if (!flag.isEmpty()) {
        cmd.add(flag);
      }
    }
    if (!Files.isReadable(s.proxyJar())) {
      throw new IllegalArgumentException(
          "the proxy jar "
              + s.proxyJar()
              + " cannot be read (set "
              + AgentSettings.PROXY_JAR
              + " to where mesh-proxy.jar is)");
    }
    cmd.addAll(
        List.of(
            "-jar",
            s.proxyJar().toString(),
            "-c",
            bootstrap.toString(),
            "--drain-time-s",
            String.valueOf(Math.max(1, s.terminationDrainDuration().toSeconds())),
            "--drain-strategy",
            "immediate"));
    return cmd;
  }
}
