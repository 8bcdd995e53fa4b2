package dev.mesh.istioctl;

import dev.mesh.api.MeshPorts;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;

/** istioctl proxy-config: a proxy's config, from its admin /config_dump, as tables or JSON. */
@Command(
    name = "proxy-config",
    mixinStandardHelpOptions = true,
    description =
        "Shows a proxy's listeners, routes, clusters, endpoints, bootstrap or secrets, read from its"
            + " admin /config_dump (through a port-forward to the pod's 15000, or --admin-url).")
final class ProxyConfigCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(
      index = "0",
      description = "listeners, routes, clusters, endpoints, bootstrap or secret (secrets)")
  String what;

  @Parameters(index = "1", description = "the pod, as name.namespace")
  String pod;

  @Option(
      names = {"-o", "--output"},
      defaultValue = "short",
      description = "short (a table) or json")
  String output;

  @Option(
      names = "--admin-url",
      description = "the proxy's admin address instead of a port-forward")
  URI adminUrl;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    String section =
        switch (what) {
          case "listeners" -> "ListenersConfigDump";
          case "routes" -> "RoutesConfigDump";
          case "clusters" -> "ClustersConfigDump";
          case "endpoints" -> "EndpointsConfigDump";
          case "bootstrap" -> "BootstrapConfigDump";
          case "secret", "secrets" -> "SecretsConfigDump";
          default -> null;
        };
    if (section == null) {
      err.println(
          "meshctl proxy-config: '"
              + what
              + "': use listeners, routes, clusters, endpoints, bootstrap or secret");
      return 2;
    }
    if (!output.equals("short") && !output.equals("json")) {
      err.println("meshctl proxy-config: -o must be short or json, got '" + output + "'");
      return 2;
    }
    int dot = pod.indexOf('.');
    String name = dot < 0 ? pod : pod.substring(0, dot);
    String namespace = dot < 0 ? "default" : pod.substring(dot + 1);
    PortForwarder forwarder =
        adminUrl != null ? PortForwarder.direct(adminUrl) : PortForwarder.forCurrentCluster();
    try {
      JsonNode config = section(forwarder, namespace, name, section);
      if (config == null && what.startsWith("secret") && !output.equals("json")) {
        SecretSummary.print(out, List.of());
        return 0;
      }
      if (config == null) {
        out.println(output.equals("json") ? "{}" : "(none)");
        return 0;
      }
      if (output.equals("json")) {
        out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        return 0;
      }
      switch (what) {
        case "clusters" -> clusters(out, config);
        case "listeners" -> listeners(out, config);
        case "routes" -> routes(out, config);
        case "endpoints" -> endpoints(out, config);
        case "secret", "secrets" ->
            SecretSummary.print(out, SecretSummary.items(config, java.time.Instant.now()));
        default -> out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
      }
      return 0;
    } catch (IOException e) {
      err.println("meshctl proxy-config: " + e.getMessage());
      return 1;
    }
  }

  /**
   * One section of the pod's proxy's /config_dump (the config whose @type ends with it), or null;
   * the pod is checked first to exist and run the sidecar.
   */
  static JsonNode section(PortForwarder forwarder, String namespace, String pod, String section)
      throws IOException {
    forwarder.requireSidecar(namespace, pod);
    try (PortForwarder.Forward f = forwarder.open(namespace, pod, MeshPorts.PROXY_ADMIN)) {
      JsonNode dump;
      try {
        dump = JSON.readTree(ProxyStatusCommand.get(f.base().resolve("/config_dump")));
      } catch (tools.jackson.core.JacksonException e) {
        throw new IOException(
            "the proxy's /config_dump is not JSON: " + InstallCommand.firstLine(e.getMessage()));
      }
      JsonNode config = null;
      for (JsonNode c : dump.path("configs")) {
        if (c.path("@type").asString("").endsWith("." + section)) {
          config = c;
        }
      }
      return config;
    }
  }

  private static List<JsonNode> items(JsonNode config, String listField, String itemField) {
    List<JsonNode> out = new ArrayList<>();
    for (JsonNode n : config.path(listField)) {
      out.add(itemField == null ? n : n.path(itemField));
    }
    return out;
  }

  private static void clusters(PrintWriter out, JsonNode config) {
    out.printf("%-55s %-6s %-8s %-10s %s%n", "SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE");
    List<JsonNode> all = items(config, "static_clusters", "cluster");
    all.addAll(items(config, "dynamic_active_clusters", "cluster"));
    for (JsonNode c : all) {
      String name = c.path("name").asString();
      String[] parts = name.split("\\|", -1);
      String type = c.path("type").asString("STATIC");
      if (parts.length == 4) {
        out.printf(
            "%-55s %-6s %-8s %-10s %s%n",
            parts[3].isEmpty() ? "-" : parts[3],
            parts[1],
            parts[2].isEmpty() ? "-" : parts[2],
            parts[0],
            type);
      } else {
        out.printf("%-55s %-6s %-8s %-10s %s%n", name, "-", "-", "-", type);
      }
    }
  }

  private static void listeners(PrintWriter out, JsonNode config) {
    out.printf("%-30s %-16s %-6s %s%n", "NAME", "ADDRESS", "PORT", "FILTER CHAINS");
    List<JsonNode> all = items(config, "static_listeners", "listener");
    for (JsonNode d : config.path("dynamic_listeners")) {
      all.add(d.path("active_state").path("listener"));
    }
    for (JsonNode l : all) {
      JsonNode sa = l.path("address").path("socket_address");
      out.printf(
          "%-30s %-16s %-6s %d%n",
          l.path("name").asString(),
          sa.path("address").asString("-"),
          sa.path("port_value").asString("-"),
          l.path("filter_chains").size());
    }
  }

  private static void routes(PrintWriter out, JsonNode config) {
    out.printf("%-20s %-50s %s%n", "NAME", "VIRTUAL HOST", "DOMAINS");
    List<JsonNode> all = items(config, "static_route_configs", "route_config");
    all.addAll(items(config, "dynamic_route_configs", "route_config"));
    for (JsonNode r : all) {
      for (JsonNode vh : r.path("virtual_hosts")) {
        ArrayNode domains = (ArrayNode) vh.path("domains");
        List<String> shown = new ArrayList<>();
        domains.forEach(d -> shown.add(d.asString()));
        String list = String.join(",", shown.subList(0, Math.min(3, shown.size())));
        out.printf(
            "%-20s %-50s %s%s%n",
            r.path("name").asString(),
            vh.path("name").asString(),
            list,
            shown.size() > 3 ? " + " + (shown.size() - 3) + " more" : "");
      }
    }
  }

  private static void endpoints(PrintWriter out, JsonNode config) {
    out.printf("%-24s %s%n", "ENDPOINT", "CLUSTER");
    List<JsonNode> all = items(config, "static_endpoint_configs", "endpoint_config");
    all.addAll(items(config, "dynamic_endpoint_configs", "endpoint_config"));
    for (JsonNode cla : all) {
      for (JsonNode locality : cla.path("endpoints")) {
        for (JsonNode e : locality.path("lb_endpoints")) {
          JsonNode sa = e.path("endpoint").path("address").path("socket_address");
          out.printf(
              "%-24s %s%n",
              sa.path("address").asString() + ":" + sa.path("port_value").asString(),
              cla.path("cluster_name").asString());
        }
      }
    }
  }
}
