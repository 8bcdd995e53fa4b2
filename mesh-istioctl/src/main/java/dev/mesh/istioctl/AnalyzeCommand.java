package dev.mesh.istioctl;

import dev.mesh.config.ConfigError;
import dev.mesh.config.InvalidConfigException;
import dev.mesh.config.IstioResources;
import dev.mesh.config.networking.Destination;
import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.ServiceEntry;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.networking.VirtualServiceSpec;
import io.fabric8.kubernetes.client.CustomResource;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import tools.jackson.databind.JsonNode;

/**
 * istioctl analyze, offline: Istio-style YAML checked for what breaks traffic quietly, each finding
 * in Istio's manner and with Istio's codes (IST0101 a referenced host or subset that does not
 * exist, IST0106 a schema error such as an unknown field, IST0129 a rule that can never match).
 */
@Command(
    name = "analyze",
    mixinStandardHelpOptions = true,
    description = {
      "Checks Istio-style YAML files offline: routes to hosts or subsets nothing defines, rules"
          + " that can never match, and schema errors (unknown fields, wrong types, bad values).",
      "Hosts are the Services and ServiceEntries of the same files."
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {"0:no issues", "1:a file could not be read", "79:issues were found"})
final class AnalyzeCommand implements Callable<Integer> {
  static final int ISSUES_FOUND = 79;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = {"-f", "--filename"},
      required = true,
      arity = "1..*",
      description = "the YAML files to analyze")
  List<Path> files;

  @Option(
      names = "--domain",
      defaultValue = "cluster.local",
      description = "the cluster's DNS domain")
  String domain;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    List<String> issues = new ArrayList<>();
    List<VirtualService> virtualServices = new ArrayList<>();
    Map<String, Set<String>> subsets = new HashMap<>();
    Set<String> hosts = new HashSet<>();
    for (Path file : files) {
      List<JsonNode> docs;
      try {
        docs = IstioResources.readDocuments(Files.readString(file));
      } catch (IOException e) {
        spec.commandLine()
            .getErr()
            .println("meshctl analyze: cannot read " + file + ": " + e.getMessage());
        return 1;
      } catch (IllegalArgumentException e) {
        issues.add("Error [IST0106] (" + file + ") Schema validation error: " + e.getMessage());
        continue;
      }
      for (JsonNode doc : docs) {
        String kind = doc.path("kind").asString("");
        String ns = namespaceOf(doc);
        if (kind.equals("Service") && doc.path("apiVersion").asString("").equals("v1")) {
          hosts.add(doc.path("metadata").path("name").asString() + "." + ns + ".svc." + domain);
          continue;
        }
        if (IstioResources.kindOf(doc).isEmpty()) {
          continue;
        }
        CustomResource<?, ?> r;
        try {
          r = IstioResources.fromTree(doc);
        } catch (InvalidConfigException e) {
          for (ConfigError error : e.errors()) {
            issues.add(
                "Error [IST0106] ("
                    + error.kind()
                    + " "
                    + error.ref()
                    + ") Schema validation error: "
                    + (error.field().isEmpty() ? "" : error.field() + ": ")
                    + error.message());
          }
          continue;
        }
        if (r instanceof VirtualService vs) {
          virtualServices.add(vs);
        } else if (r instanceof DestinationRule dr) {
          Set<String> names =
              subsets.computeIfAbsent(fqdn(dr.getSpec().host, ns), h -> new HashSet<>());
          if (dr.getSpec().subsets != null) {
            dr.getSpec().subsets.forEach(s -> names.add(s.name));
          }
        } else if (r instanceof ServiceEntry se) {
          se.getSpec().hosts.forEach(h -> hosts.add(fqdn(h, ns)));
        }
      }
    }
    for (VirtualService vs : virtualServices) {
      analyze(vs, hosts, subsets, issues);
    }
    if (issues.isEmpty()) {
      out.println(
          "\u2714 No validation issues found when analyzing "
              + String.join(", ", files.stream().map(Path::toString).toList())
              + ".");
      return 0;
    }
    issues.forEach(out::println);
    return ISSUES_FOUND;
  }

  private void analyze(
      VirtualService vs, Set<String> hosts, Map<String, Set<String>> subsets, List<String> issues) {
    String ns =
        vs.getMetadata().getNamespace() == null ? "default" : vs.getMetadata().getNamespace();
    String where = "(VirtualService " + ns + "/" + vs.getMetadata().getName() + ")";
    List<VirtualServiceSpec.HTTPRoute> http =
        vs.getSpec().http == null ? List.of() : vs.getSpec().http;
    List<String> seenMatches = new ArrayList<>();
    for (int i = 0; i < http.size(); i++) {
      VirtualServiceSpec.HTTPRoute route = http.get(i);
      List<Destination> destinations = new ArrayList<>();
      if (route.route != null) {
        route.route.forEach(d -> destinations.add(d.destination));
      }
      if (route.mirror != null) {
        destinations.add(route.mirror);
      }
      for (Destination d : destinations) {
        String host = fqdn(d.host, ns);
        if (!hosts.contains(host)) {
          issues.add("Error [IST0101] " + where + " Referenced host not found: \"" + d.host + "\"");
        } else if (d.subset != null && !subsets.getOrDefault(host, Set.of()).contains(d.subset)) {
          issues.add(
              "Error [IST0101] "
                  + where
                  + " Referenced host+subset in destinationrule not found: \""
                  + d.host
                  + "+"
                  + d.subset
                  + "\"");
        }
      }
      if ((route.match == null || route.match.isEmpty()) && i < http.size() - 1) {
        issues.add(
            "Error [IST0129] "
                + where
                + " VirtualService rule #"
                + (i + 1)
                + " not used (only the last rule can have no matches).");
      }
      if (route.match != null) {
        for (int m = 0; m < route.match.size(); m++) {
          String key = IstioResources.toJson(route.match.get(m));
          int earlier = seenMatches.indexOf(key);
          if (earlier >= 0) {
            issues.add(
                "Error [IST0129] "
                    + where
                    + " VirtualService rule #"
                    + (i + 1)
                    + " match #"
                    + (m + 1)
                    + " not used (duplicate of an earlier match).");
          }
          seenMatches.add(key);
        }
      }
      if (i < http.size() - 1 && (route.match == null || route.match.isEmpty())) {
        break; // everything after a catch-all is unreachable, said once
      }
    }
  }

  private static String namespaceOf(JsonNode doc) {
    String ns = doc.path("metadata").path("namespace").asString("default");
    return ns.isEmpty() ? "default" : ns;
  }

  /** A host as Istio resolves a short name: relative to the resource's namespace. */
  private String fqdn(String host, String namespace) {
    if (host.contains(".")) {
      return host.split("\\.").length == 2 ? host + ".svc." + domain : host;
    }
    return host + "." + namespace + ".svc." + domain;
  }
}
