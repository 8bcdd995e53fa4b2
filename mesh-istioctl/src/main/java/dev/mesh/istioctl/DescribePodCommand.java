package dev.mesh.istioctl;

import dev.mesh.api.IstioAnnotations;
import dev.mesh.api.IstioLabels;
import dev.mesh.config.IstioResources;
import dev.mesh.config.mesh.MeshConfig;
import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.DestinationRuleSpec;
import dev.mesh.config.networking.StringMatch;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.networking.VirtualServiceSpec;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.config.security.AuthorizationPolicySpec;
import dev.mesh.config.security.PeerAuthentication;
import dev.mesh.config.security.PeerAuthenticationPrecedence;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * istioctl x describe pod: the pod, the Services that select it, and per service port the
 * DestinationRule and VirtualServices for its host and the AuthorizationPolicies (as the RBAC
 * policy names pilot gives their rules); then the PeerAuthentication in force. Istio's output, in
 * its words and indentation.
 *
 * <p>Istio finds the DestinationRule and VirtualService through the {@code istio} filter metadata
 * that istiod puts on the proxy's clusters and routes; pilot puts none there, so meshctl reads them
 * from the API as pilot would pick them: the rules whose host is the service's, in the service's
 * namespace first, then the root namespace.
 */
@Command(
    name = "pod",
    aliases = "po",
    mixinStandardHelpOptions = true,
    description =
        "Describes a pod and the mesh configuration that affects it: its Services, their"
            + " DestinationRules, VirtualServices and AuthorizationPolicies, and the"
            + " PeerAuthentication in force.")
final class DescribePodCommand implements Callable<Integer> {
  private static final String SEPARATOR = "--------------------";
  private static final String K8S_SUFFIX = ".svc.cluster.local";
  private static final String REQUIREMENTS =
      "https://istio.io/latest/docs/ops/deployment/requirements/";
  private static final String L0 = "";
  private static final String L1 = "   ";
  private static final String L2 = "      ";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(index = "0", paramLabel = "POD", description = "the pod, as name or name.namespace")
  String podArg;

  @Option(
      names = {"-n", "--namespace"},
      description = "the pod's namespace (default: the kubeconfig context's, else default)")
  String namespaceOption;

  @Option(names = "--ignoreUnmeshed", description = "suppress warnings for unmeshed pods")
  boolean ignoreUnmeshed;

  /** The namespace the user is in: names in it are printed bare, others as name.namespace. */
  private String describeNamespace;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (KubernetesClient client = CurrentCluster.client()) {
      String current = client.getNamespace() == null ? "default" : client.getNamespace();
      describeNamespace = namespaceOption != null ? namespaceOption : current;
      PodName p = PodName.parse(podArg, describeNamespace);
      String name = p.name();
      String namespace = p.namespace();
      Pod pod = client.pods().inNamespace(namespace).withName(name).get();
      if (pod == null) {
        err.println("meshctl x describe pod: pod " + name + "." + namespace + " not found");
        return 1;
      }
      return describe(client, pod, out, err);
    } catch (KubernetesClientException e) {
      err.println("meshctl x describe pod: " + InstallCommand.unreachable(e));
      return 1;
    } catch (IOException e) {
      err.println("meshctl x describe pod: " + e.getMessage());
      return 1;
    }
  }

  private int describe(KubernetesClient client, Pod pod, PrintWriter out, PrintWriter err)
      throws IOException {
    String ns = pod.getMetadata().getNamespace();
    Map<String, String> labels = orEmpty(pod.getMetadata().getLabels());
    printPod(out, pod);
    if (!PortForwarder.hasSidecar(pod)) {
      // istioctl goes on to ask the sidecar and fails there; there is nothing more to say
      err.println(
          "meshctl x describe pod: pod "
              + pod.getMetadata().getName()
              + "."
              + ns
              + " has no istio-proxy container: it is not in the mesh");
      return 1;
    }
    List<Service> services = new ArrayList<>();
    for (Service s : client.services().inNamespace(ns).list().getItems()) {
      Map<String, String> selector = s.getSpec() == null ? null : s.getSpec().getSelector();
      if (selector != null && !selector.isEmpty() && matches(selector, labels)) {
        services.add(s);
      }
    }
    services.sort(Comparator.comparing(s -> s.getMetadata().getName()));
    if (services.isEmpty() && !ignoreUnmeshed) {
      out.printf(
          "Warning: No Kubernetes Services select pod %s (see"
              + " https://istio.io/docs/setup/kubernetes/additional-setup/requirements/ )%n",
          kname(pod));
    }
    String root = rootNamespace(client);
    List<DestinationRule> rules =
        client.resources(DestinationRule.class).inAnyNamespace().list().getItems();
    List<VirtualService> virtualServices =
        client.resources(VirtualService.class).inAnyNamespace().list().getItems();
    List<AuthorizationPolicy> authz = new ArrayList<>();
    for (String at : namespaces(ns, root)) {
      authz.addAll(client.resources(AuthorizationPolicy.class).inNamespace(at).list().getItems());
    }
    List<String> rbac = rbacPolicies(authorizationPolicies(authz, root, ns, labels));
    out.println(SEPARATOR);
    for (int row = 0; row < services.size(); row++) {
      if (row != 0) {
        out.println(SEPARATOR);
      }
      Service svc = services.get(row);
      printService(out, svc, pod);
      List<ServicePort> ports =
          svc.getSpec().getPorts() == null ? List.of() : svc.getSpec().getPorts();
      String level = ports.size() > 1 ? L1 : L0;
      for (ServicePort port : ports) {
        if (ports.size() > 1) {
          out.println(port.getPort() + ":");
        }
        DestinationRule dr = destinationRule(rules, svc, root);
        List<String> matching = new ArrayList<>();
        List<String> nonMatching = new ArrayList<>();
        if (dr != null) {
          printDestinationRule(out, level, dr, labels);
          subsets(dr, labels, matching, nonMatching);
        }
        for (VirtualService vs : virtualServices(virtualServices, svc)) {
          printVirtualService(out, level, vs, svc, matching, nonMatching, dr);
        }
        if (!rbac.isEmpty()) {
          if (ports.size() > 1) {
            out.print(port.getPort() + " ");
          }
          out.println("RBAC policies: " + String.join(", ", rbac));
        }
      }
    }
    out.println(SEPARATOR);
    List<PeerAuthentication> pas = new ArrayList<>();
    for (String at : namespaces(ns, root)) {
      pas.addAll(client.resources(PeerAuthentication.class).inNamespace(at).list().getItems());
    }
    var effective = PeerAuthenticationPrecedence.forWorkload(pas, root, ns, labels);
    out.println("Effective PeerAuthentication:");
    out.println(L1 + "Workload mTLS mode: " + effective.mode());
    if (!effective.perPort().isEmpty()) {
      out.println(L1 + "Port Level mTLS mode:");
      effective.perPort().forEach((p, m) -> out.println(L2 + p + ": " + m));
    }
    if (!effective.applied().isEmpty()) {
      out.println("Applied PeerAuthentication:");
      out.println(
          L1
              + String.join(
                  ", ",
                  effective.applied().stream()
                      .map(p -> p.getMetadata().getName() + "." + p.getMetadata().getNamespace())
                      .toList()));
    }
    List<Pod> gateways =
        client.pods().inAnyNamespace().withLabel("istio", "ingressgateway").list().getItems();
    if (gateways.isEmpty()) {
      out.println("Skipping Gateway information (no ingress gateway pods)");
    } else {
      out.println("Skipping Gateway information (meshctl does not read gateways yet)");
    }
    return 0;
  }

  // --- the pod ---

  private void printPod(PrintWriter out, Pod pod) {
    List<String> ports = new ArrayList<>();
    for (Container c : pod.getSpec().getContainers()) {
      for (ContainerPort p : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
        String protocol =
            p.getProtocol() == null || p.getProtocol().equals("TCP") ? "" : "/" + p.getProtocol();
        ports.add(p.getContainerPort() + protocol + " (" + c.getName() + ")");
      }
      if (!c.getName().equals(PortForwarder.SIDECAR)
          && c.getSecurityContext() != null
          && Long.valueOf(1337).equals(c.getSecurityContext().getRunAsUser())) {
        out.println("WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.");
      }
    }
    out.println("Pod: " + kname(pod));
    out.println(L1 + "Pod Revision: " + revision(pod));
    if (ports.isEmpty()) {
      out.println(L1 + "Pod does not expose ports");
    } else {
      out.println(L1 + "Pod Ports: " + String.join(", ", ports));
    }
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    if (!"Running".equals(phase)) {
      out.println(L1 + "Pod is not Running (" + (phase == null ? "" : phase) + ")");
      return;
    }
    for (ContainerStatus s : orEmpty(pod.getStatus().getContainerStatuses())) {
      if (!Boolean.TRUE.equals(s.getReady())) {
        out.println("WARNING: Pod " + kname(pod) + " Container " + s.getName() + " NOT READY");
      }
    }
    for (ContainerStatus s : orEmpty(pod.getStatus().getInitContainerStatuses())) {
      if (!Boolean.TRUE.equals(s.getReady())) {
        out.println("WARNING: Pod " + kname(pod) + " Init Container " + s.getName() + " NOT READY");
      }
    }
    if (ignoreUnmeshed) {
      return;
    }
    if (!PortForwarder.hasSidecar(pod)) {
      out.println("WARNING: " + kname(pod) + " is not part of mesh; no Istio sidecar");
      return;
    }
    if (pod.getSpec().getSecurityContext() != null
        && Long.valueOf(1337).equals(pod.getSpec().getSecurityContext().getRunAsUser())) {
      out.println(L1 + "WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.");
    }
    Map<String, String> labels = orEmpty(pod.getMetadata().getLabels());
    if (!labels.containsKey(IstioLabels.CANONICAL_NAME)
        && !labels.containsKey(IstioLabels.K8S_APP_NAME)
        && !labels.containsKey(IstioLabels.APP)) {
      out.println(
          "Suggestion: add required service name label for Istio telemetry. See "
              + REQUIREMENTS
              + ".");
    }
    if (!labels.containsKey(IstioLabels.CANONICAL_REVISION)
        && !labels.containsKey(IstioLabels.K8S_APP_VERSION)
        && !labels.containsKey(IstioLabels.VERSION)) {
      out.println(
          "Suggestion: add required service revision label for Istio telemetry. See "
              + REQUIREMENTS
              + ".");
    }
  }

  /** istio.io/rev, else the revision in the injector's status annotation, else blank. */
  private static String revision(Pod pod) {
    Map<String, String> annotations = orEmpty(pod.getMetadata().getAnnotations());
    if (annotations.containsKey(IstioLabels.REVISION)) {
      return annotations.get(IstioLabels.REVISION);
    }
    String status = annotations.get(IstioAnnotations.SIDECAR_STATUS);
    if (status == null) {
      return "";
    }
    try {
      return tools.jackson.databind.json.JsonMapper.builder()
          .build()
          .readTree(status)
          .path("revision")
          .asString("");
    } catch (tools.jackson.core.JacksonException e) {
      return "";
    }
  }

  // --- services ---

  private void printService(PrintWriter out, Service svc, Pod pod) {
    out.println("Service: " + kname(svc));
    for (ServicePort port : orEmpty(svc.getSpec().getPorts())) {
      String protocol = port.getProtocol() == null ? "TCP" : port.getProtocol();
      if (!protocol.equals("TCP")) {
        continue; // UDP ports are not Istio's
      }
      Integer target = targetPort(pod, port, protocol);
      if (target != null) {
        out.printf(
            "%sPort: %s %d/%s targets pod port %d%n",
            L1, orBlank(port.getName()), port.getPort(), protocolOf(port), target);
      } else {
        out.println(L1 + "no suitable port for manifest: " + orBlank(pod.getMetadata().getUid()));
      }
    }
  }

  /** The pod port a service port sends to: a number, or the container port of that name. */
  private static Integer targetPort(Pod pod, ServicePort port, String protocol) {
    var target = port.getTargetPort();
    if (target == null || target.getValue() == null) {
      return port.getPort(); // the API server's default: the service port
    }
    if (target.getIntVal() != null) {
      return target.getIntVal();
    }
    for (Container c : pod.getSpec().getContainers()) {
      for (ContainerPort p : orEmpty(c.getPorts())) {
        String pp = p.getProtocol() == null ? "TCP" : p.getProtocol();
        if (target.getStrVal().equals(p.getName()) && pp.equals(protocol)) {
          return p.getContainerPort();
        }
      }
    }
    return null;
  }

  private static final Map<String, String> PROTOCOLS =
      Map.ofEntries(
          Map.entry("tcp", "TCP"),
          Map.entry("udp", "UDP"),
          Map.entry("grpc", "GRPC"),
          Map.entry("grpc-web", "GRPC-Web"),
          Map.entry("http", "HTTP"),
          Map.entry("http_proxy", "HTTP_PROXY"),
          Map.entry("http2", "HTTP2"),
          Map.entry("https", "HTTPS"),
          Map.entry("tls", "TLS"),
          Map.entry("mongo", "Mongo"),
          Map.entry("redis", "Redis"),
          Map.entry("mysql", "MySQL"),
          Map.entry("hbone", "HBONE"));

  /** Ports Istio treats as TCP when their name says nothing. */
  private static final Set<Integer> WELL_KNOWN_TCP = Set.of(22, 25, 3306, 27017, 5432, 6379);

  /** Istio's protocol of a service port: auto-detect, or from appProtocol or the name's prefix. */
  static String protocolOf(ServicePort port) {
    if ("UDP".equals(port.getProtocol())) {
      return "UDP";
    }
    String name = port.getName() == null ? "" : port.getName();
    if (name.isEmpty() && port.getAppProtocol() == null) {
      return "auto-detect";
    }
    if (port.getAppProtocol() != null) {
      name = port.getAppProtocol();
      switch (name) {
        case "kubernetes.io/h2c" -> {
          return "HTTP2";
        }
        case "kubernetes.io/ws" -> {
          return "HTTP";
        }
        case "kubernetes.io/wss" -> {
          return "HTTPS";
        }
        default -> {}
      }
    }
    String lower = name.toLowerCase(Locale.ROOT);
    if (lower.startsWith("grpc-web")) {
      return "GRPC-Web";
    }
    int dash = lower.indexOf('-');
    String prefix = dash >= 0 ? lower.substring(0, dash) : lower;
    String p = PROTOCOLS.get(prefix);
    if (p == null) {
      return WELL_KNOWN_TCP.contains(port.getPort()) ? "TCP" : "UnsupportedProtocol";
    }
    return p;
  }

  // --- destination rules ---

  /** The service's host as Istio writes it: name.namespace.svc.cluster.local. */
  private static String host(Service svc) {
    return svc.getMetadata().getName() + "." + svc.getMetadata().getNamespace() + K8S_SUFFIX;
  }

  /** A host of a rule in {@code namespace} made fully qualified, as Istio resolves short names. */
  static String fqdn(String host, String namespace) {
    if (host == null || host.isEmpty()) {
      return "";
    }
    if (host.startsWith("*")) {
      return host;
    }
    String out = host;
    if (!host.contains(".")) {
      out = host + "." + namespace + K8S_SUFFIX;
    }
    return out.endsWith(K8S_SUFFIX) ? out : out + K8S_SUFFIX;
  }

  private static boolean hostMatches(String ruleHost, String serviceHost) {
    if (ruleHost.equals(serviceHost)) {
      return true;
    }
    return ruleHost.startsWith("*") && serviceHost.endsWith(ruleHost.substring(1));
  }

  /**
   * The DestinationRule for the service's host: the service's namespace first, then the root
   * namespace; an exact host before a wildcard; the oldest of equals.
   */
  private static DestinationRule destinationRule(
      List<DestinationRule> all, Service svc, String root) {
    String host = host(svc);
    for (String at : namespaces(svc.getMetadata().getNamespace(), root)) {
      for (boolean exact : new boolean[] {true, false}) {
        DestinationRule found =
            all.stream()
                .filter(d -> d.getMetadata().getNamespace().equals(at) && d.getSpec() != null)
                .filter(
                    d -> {
                      String h = fqdn(d.getSpec().host, at);
                      return exact ? h.equals(host) : !h.equals(host) && hostMatches(h, host);
                    })
                .min(OLDEST)
                .orElse(null);
        if (found != null) {
          return found;
        }
      }
    }
    return null;
  }

  private static final Comparator<HasMetadata> OLDEST =
      Comparator.comparing(
              (HasMetadata m) ->
                  m.getMetadata().getCreationTimestamp() == null
                      ? ""
                      : m.getMetadata().getCreationTimestamp())
          .thenComparing(m -> m.getMetadata().getName());

  private static void subsets(
      DestinationRule dr,
      Map<String, String> labels,
      List<String> matching,
      List<String> nonMatching) {
    for (DestinationRuleSpec.Subset s : orEmpty(dr.getSpec().subsets)) {
      if (matches(orEmpty(s.labels), labels)) {
        matching.add(s.name);
      } else {
        nonMatching.add(s.name);
      }
    }
  }

  private void printDestinationRule(
      PrintWriter out, String level, DestinationRule dr, Map<String, String> labels) {
    out.printf("%sDestinationRule: %s for \"%s\"%n", level, kname(dr), dr.getSpec().host);
    List<String> matching = new ArrayList<>();
    List<String> nonMatching = new ArrayList<>();
    subsets(dr, labels, matching, nonMatching);
    if (!matching.isEmpty() || !nonMatching.isEmpty()) {
      if (matching.isEmpty()) {
        out.printf(
            "%s%sWARNING POD DOES NOT MATCH ANY SUBSETS.  (Non matching subsets %s)%n",
            level, L1, String.join(",", nonMatching));
      }
      out.printf("%s%sMatching subsets: %s%n", level, L1, String.join(",", matching));
      if (!nonMatching.isEmpty()) {
        out.printf("%s%s(Non-matching subsets %s)%n", level, L2, String.join(",", nonMatching));
      }
    }
    DestinationRuleSpec.TrafficPolicy policy = dr.getSpec().trafficPolicy;
    if (policy == null) {
      out.println(level + L1 + "No Traffic Policy");
      return;
    }
    if (policy.tls != null) {
      out.println(level + L1 + "Traffic Policy TLS Mode: " + tlsMode(policy.tls));
    }
    String shortPolicies =
        shortPolicies(policy.loadBalancer, policy.connectionPool, policy.outlierDetection);
    if (!shortPolicies.isEmpty()) {
      out.println(level + L1 + shortPolicies);
    }
    if (policy.portLevelSettings != null) {
      out.println(level + L1 + "Port Level Settings:");
      for (DestinationRuleSpec.PortTrafficPolicy ps : policy.portLevelSettings) {
        out.println(
            "    " + (ps.port == null || ps.port.number == null ? 0 : ps.port.number) + ":");
        if (ps.tls != null) {
          out.println(level + L2 + "TLS Mode: " + tlsMode(ps.tls));
        }
        String sp = shortPolicies(ps.loadBalancer, ps.connectionPool, ps.outlierDetection);
        if (!sp.isEmpty()) {
          out.println(level + L2 + sp);
        }
      }
    }
  }

  /** The mode's name; an unset one is the proto's default, DISABLE. */
  private static String tlsMode(DestinationRuleSpec.ClientTLSSettings tls) {
    return tls.mode == null ? "DISABLE" : tls.mode.name();
  }

  private static String shortPolicies(Object lb, Object pool, Object outlier) {
    List<String> extra = new ArrayList<>();
    if (lb != null) {
      extra.add("load balancer");
    }
    if (pool != null) {
      extra.add("connection pool");
    }
    if (outlier != null) {
      extra.add("outlier detection");
    }
    return extra.isEmpty() ? "" : "Policies: " + String.join("/", extra);
  }

  // --- virtual services ---

  /** The sidecars' VirtualServices (no gateways, or the mesh one) for the service's host. */
  private static List<VirtualService> virtualServices(List<VirtualService> all, Service svc) {
    String host = host(svc);
    List<VirtualService> out = new ArrayList<>();
    for (VirtualService vs : all) {
      VirtualServiceSpec spec = vs.getSpec();
      if (spec == null || spec.hosts == null) {
        continue;
      }
      if (spec.gateways != null && !spec.gateways.isEmpty() && !spec.gateways.contains("mesh")) {
        continue;
      }
      String at = vs.getMetadata().getNamespace();
      if (spec.hosts.stream().anyMatch(h -> hostMatches(fqdn(h, at), host))) {
        out.add(vs);
      }
    }
    out.sort(
        Comparator.comparing((VirtualService v) -> v.getMetadata().getNamespace())
            .thenComparing(v -> v.getMetadata().getName()));
    return out;
  }

  private record RouteFacts(boolean match, List<String> facts) {}

  private RouteFacts httpRoute(
      VirtualService vs,
      VirtualServiceSpec.HTTPRoute route,
      Service svc,
      List<String> matching,
      List<String> nonMatching,
      DestinationRule dr) {
    String svcHost = host(svc);
    List<String> facts = new ArrayList<>();
    List<String> mismatch = new ArrayList<>();
    boolean match = false;
    for (VirtualServiceSpec.HTTPRouteDestination dest : orEmpty(route.route)) {
      if (dest.destination == null) {
        continue;
      }
      String destHost = dest.destination.host;
      String subset = orBlank(dest.destination.subset);
      int weight = dest.weight == null ? 0 : dest.weight;
      if (fqdn(destHost, vs.getMetadata().getNamespace()).equals(svcHost)) {
        if (!subset.isEmpty()) {
          if (nonMatching.contains(subset)) {
            mismatch.add(
                "Route to non-matching subset "
                    + subset
                    + " for ("
                    + renderMatches(route.match)
                    + ")");
            continue;
          }
          if (!matching.contains(subset)) {
            mismatch.add(
                dr == null
                    ? "Warning: Route to subset "
                        + subset
                        + " but NO DESTINATION RULE defining subsets!"
                    : "Warning: Route to UNKNOWN subset "
                        + subset
                        + "; check DestinationRule "
                        + kname(dr));
            continue;
          }
        }
        match = true;
        if (weight > 0) {
          String fact = "Route to host \"" + destHost + "\"";
          if (!subset.isEmpty()) {
            fact += " subset \"" + subset + "\"";
          }
          facts.add(fact + " with weight " + weight + "%");
        }
      } else if (subset.isEmpty()) {
        facts.add("Route to host \"" + destHost + "\" with weight " + weight + "%");
      } else {
        facts.add("Route to " + destHost + " with invalid config");
      }
    }
    if (match) {
      List<String> requestFacts = new ArrayList<>();
      if (route.fault != null) {
        requestFacts.add("Fault injection " + IstioResources.toJson(route.fault));
      }
      for (VirtualServiceSpec.HTTPMatchRequest m : orEmpty(route.match)) {
        requestFacts.add(renderMatch(m));
      }
      if (!requestFacts.isEmpty()) {
        facts.add(String.join(", ", requestFacts));
      }
    } else {
      facts.addAll(mismatch);
    }
    return new RouteFacts(match, facts);
  }

  private static RouteFacts tcpRoute(
      VirtualService vs, VirtualServiceSpec.TCPRoute route, Service svc) {
    boolean match = false;
    for (VirtualServiceSpec.RouteDestination d : orEmpty(route.route)) {
      if (d.destination != null
          && fqdn(d.destination.host, vs.getMetadata().getNamespace()).equals(host(svc))) {
        match = true;
      }
    }
    List<String> facts = new ArrayList<>();
    if (match) {
      for (VirtualServiceSpec.L4MatchAttributes m : orEmpty(route.match)) {
        facts.add(IstioResources.toJson(m));
      }
    }
    return new RouteFacts(match, facts);
  }

  private static String renderMatches(List<VirtualServiceSpec.HTTPMatchRequest> matches) {
    if (matches == null || matches.isEmpty()) {
      return "everything";
    }
    return String.join(", ", matches.stream().map(DescribePodCommand::renderMatch).toList());
  }

  private static String renderMatch(VirtualServiceSpec.HTTPMatchRequest m) {
    StringBuilder s = new StringBuilder("Match: ");
    if (m.uri != null) {
      s.append(render(m.uri));
      if (Boolean.TRUE.equals(m.ignoreUriCase)) {
        s.append(" uncased");
      }
    }
    if (m.headers != null && !m.headers.isEmpty()) {
      List<String> conditions = new ArrayList<>();
      new TreeMap<>(m.headers).forEach((k, v) -> conditions.add(k + "=" + render(v)));
      s.append(" when headers are ").append(String.join("; ", conditions));
    }
    return s.toString().strip();
  }

  private static String render(StringMatch m) {
    if (m.exact != null) {
      return m.exact;
    }
    if (m.prefix != null) {
      return m.prefix + "*";
    }
    return m.regex != null ? "regex:" + m.regex : "";
  }

  private void printVirtualService(
      PrintWriter out,
      String level,
      VirtualService vs,
      Service svc,
      List<String> matching,
      List<String> nonMatching,
      DestinationRule dr) {
    out.println(level + "VirtualService: " + kname(vs));
    VirtualServiceSpec spec = vs.getSpec();
    int matches = 0;
    int facts = 0;
    List<String> mismatch = new ArrayList<>();
    List<RouteFacts> routes = new ArrayList<>();
    for (VirtualServiceSpec.HTTPRoute r : orEmpty(spec.http)) {
      routes.add(httpRoute(vs, r, svc, matching, nonMatching, dr));
    }
    for (VirtualServiceSpec.TCPRoute r : orEmpty(spec.tcp)) {
      routes.add(tcpRoute(vs, r, svc));
    }
    for (RouteFacts f : routes) {
      if (f.match()) {
        matches++;
        for (String fact : f.facts()) {
          out.println(level + L1 + fact);
          facts++;
        }
      } else {
        mismatch.addAll(f.facts());
      }
    }
    int http = orEmpty(spec.http).size();
    int tcp = orEmpty(spec.tcp).size();
    if (matches == 0) {
      if (http > 0) {
        out.println(
            level
                + L1
                + "WARNING: No destinations match pod subsets (checked "
                + http
                + " HTTP routes)");
      }
      if (tcp > 0) {
        out.println(
            level
                + L1
                + "WARNING: No destinations match pod subsets (checked "
                + tcp
                + " TCP routes)");
      }
      mismatch.forEach(m -> out.println(level + L2 + m));
      return;
    }
    int possible = http + orEmpty(spec.tls).size() + tcp;
    if (matches < possible) {
      out.println(
          level
              + L1
              + (possible - matches)
              + " additional destination(s) that will not reach this pod");
      if (facts == 0) {
        mismatch.forEach(m -> out.println(level + L2 + m));
      }
      return;
    }
    if (facts == 0) {
      if (http > 0) {
        out.println(level + L1 + http + " HTTP route(s)");
      }
      if (tcp > 0) {
        out.println(level + L1 + tcp + " TCP route(s)");
      }
    }
  }

  // --- authorization ---

  /**
   * The AuthorizationPolicies that apply to the workload, as pilot picks them: the root namespace's
   * and the workload namespace's, without a selector or with one matching its labels; never those
   * with targetRef(s), which attach to gateways and waypoints.
   */
  static List<AuthorizationPolicy> authorizationPolicies(
      List<AuthorizationPolicy> all, String root, String namespace, Map<String, String> labels) {
    List<AuthorizationPolicy> out = new ArrayList<>();
    for (AuthorizationPolicy p : all) {
      String at = p.getMetadata().getNamespace();
      AuthorizationPolicySpec spec = p.getSpec();
      if (spec == null
          || spec.targetRef != null
          || spec.targetRefs != null && !spec.targetRefs.isEmpty()
          || !at.equals(root) && !at.equals(namespace)) {
        continue;
      }
      Map<String, String> selector = spec.selector == null ? null : spec.selector.matchLabels;
      if (selector == null || selector.isEmpty() || matches(selector, labels)) {
        out.add(p);
      }
    }
    out.sort(
        Comparator.comparing((AuthorizationPolicy p) -> p.getMetadata().getNamespace())
            .thenComparing(p -> p.getMetadata().getName()));
    return out;
  }

  /**
   * The names of the RBAC policies pilot makes of them, in its filters' order (CUSTOM, AUDIT, DENY,
   * ALLOW): {@code ns[<ns>]-policy[<name>]-rule[<i>]} per rule; an ALLOW policy without rules is
   * one rule that matches nothing; CUSTOM ones carry pilot's ext-authz prefix and suffix.
   */
  static List<String> rbacPolicies(List<AuthorizationPolicy> policies) {
    List<String> out = new ArrayList<>();
    for (AuthorizationPolicySpec.Action action :
        List.of(
            AuthorizationPolicySpec.Action.CUSTOM,
            AuthorizationPolicySpec.Action.AUDIT,
            AuthorizationPolicySpec.Action.DENY,
            AuthorizationPolicySpec.Action.ALLOW)) {
      for (AuthorizationPolicy p : policies) {
        var a =
            p.getSpec().action == null ? AuthorizationPolicySpec.Action.ALLOW : p.getSpec().action;
        if (a != action) {
          continue;
        }
        String name =
            "ns["
                + p.getMetadata().getNamespace()
                + "]-policy["
                + p.getMetadata().getName()
                + "]-rule[";
        int rules = orEmpty(p.getSpec().rules).size();
        if (rules == 0 && action == AuthorizationPolicySpec.Action.ALLOW) {
          out.add(name + "0]");
        }
        for (int i = 0; i < rules; i++) {
          out.add(
              action == AuthorizationPolicySpec.Action.CUSTOM
                  ? "istio-ext-authz-" + name + i + "]-deny-due-to-bad-CUSTOM-action"
                  : name + i + "]");
        }
      }
    }
    return out;
  }

  // --- helpers ---

  /** Where mesh-wide policies live: MeshConfig's rootNamespace (ConfigMap mesh-system/mesh). */
  static String rootNamespace(KubernetesClient client) {
    String fallback = MeshConfig.defaults().rootNamespace;
    ConfigMap cm = client.configMaps().inNamespace(fallback).withName("mesh").get();
    String yaml = cm == null || cm.getData() == null ? null : cm.getData().get("mesh");
    if (yaml == null || yaml.isBlank()) {
      return fallback;
    }
    try {
      MeshConfig mesh =
          IstioResources.readValue(yaml, MeshConfig.class, "ConfigMap mesh-system/mesh");
      return mesh.rootNamespace == null || mesh.rootNamespace.isBlank()
          ? fallback
          : mesh.rootNamespace;
    } catch (RuntimeException e) {
      return fallback; // pilot refuses such a mesh config; its default is the best guess here
    }
  }

  private static List<String> namespaces(String namespace, String root) {
    return namespace.equals(root) ? List.of(namespace) : List.of(namespace, root);
  }

  private String kname(HasMetadata o) {
    String ns = o.getMetadata().getNamespace();
    return ns == null || ns.equals(describeNamespace)
        ? o.getMetadata().getName()
        : o.getMetadata().getName() + "." + ns;
  }

  private static boolean matches(Map<String, String> selector, Map<String, String> labels) {
    for (var e : selector.entrySet()) {
      if (!e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  private static <T> List<T> orEmpty(List<T> l) {
    return l == null ? List.of() : l;
  }

  private static <K, V> Map<K, V> orEmpty(Map<K, V> m) {
    return m == null ? Map.of() : m;
  }

  private static String orBlank(String s) {
    return s == null ? "" : s;
  }
}
