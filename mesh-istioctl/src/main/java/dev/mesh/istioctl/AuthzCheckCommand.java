package dev.mesh.istioctl;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * istioctl x authz check: the AuthorizationPolicies in force in a pod's proxy, read from the RBAC
 * filters of its listeners in the admin /config_dump.
 */
@Command(
    name = "check",
    mixinStandardHelpOptions = true,
    description = {
      "Prints the AuthorizationPolicies applied to a pod, read from its proxy's configuration"
          + " (the RBAC filters of its listeners): per action (DENY, ALLOW, LOG for AUDIT), each"
          + " policy as name.namespace and how many of its rules are in force.",
      "The config dump comes from the pod's admin port (a port-forward to 15000), --admin-url, or"
          + " a file (-f)."
    })
final class AuthzCheckCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "POD",
      description = "the pod, as name.namespace (namespace default: default)")
  String pod;

  @Option(
      names = "--admin-url",
      description = "the proxy's admin address instead of a port-forward")
  URI adminUrl;

  @Option(
      names = {"-f", "--file"},
      description = "an Envoy config dump (JSON) to check instead of a pod's")
  java.nio.file.Path file;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      JsonNode listeners;
      if (file != null) {
        listeners = fromFile();
      } else if (pod != null) {
        PodName p = PodName.parse(pod, "default");
        PortForwarder forwarder =
            adminUrl != null ? PortForwarder.direct(adminUrl) : PortForwarder.forCurrentCluster();
        listeners =
            ProxyConfigCommand.section(forwarder, p.namespace(), p.name(), "ListenersConfigDump");
      } else {
        err.println("meshctl x authz check: expecting a pod name or a config dump (-f)");
        return 2;
      }
      AuthzSummary.print(
          out,
          AuthzSummary.rows(
              listeners == null ? JsonMapper.builder().build().createObjectNode() : listeners));
      return 0;
    } catch (IOException e) {
      err.println("meshctl x authz check: " + e.getMessage());
      return 1;
    }
  }

  private JsonNode fromFile() throws IOException {
    String text;
    try {
      text = java.nio.file.Files.readString(file);
    } catch (IOException e) {
      throw new IOException("cannot read " + file + ": " + e.getMessage());
    }
    try {
      for (JsonNode c : JsonMapper.builder().build().readTree(text).path("configs")) {
        if (c.path("@type").asString("").endsWith(".ListenersConfigDump")) {
          return c;
        }
      }
      return null;
    } catch (tools.jackson.core.JacksonException e) {
      throw new IOException(
          file + " is not a config dump: " + InstallCommand.firstLine(e.getMessage()));
    }
  }
}
