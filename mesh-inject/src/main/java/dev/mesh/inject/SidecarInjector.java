package dev.mesh.inject;

import dev.mesh.api.AgentEnv;
import dev.mesh.api.IstioAnnotations;
import dev.mesh.api.IstioLabels;
import dev.mesh.api.MeshPorts;
import dev.mesh.api.ProxyUser;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Adds the sidecar to a pod (or a workload's pod template: metadata and spec), as Istio's injector
 * does: the init container that writes the capture rules, the sidecar container with Istio's
 * environment, volumes, the app's probes moved to the agent, Prometheus pointed at the agent, the
 * status annotation. The input is never changed; injecting an injected pod returns it unchanged.
 */
public final class SidecarInjector {
  static final String INIT = "istio-init";
  static final String PROXY = "istio-proxy";
  static final String ROOT_CERT_VOLUME = "istiod-ca-cert";
  private static final ObjectMapper JSON = JsonMapper.builder().build();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private final SidecarTemplate template;
  private final InjectionSettings settings;

  public SidecarInjector(SidecarTemplate template, InjectionSettings settings) {
    this.template = template;
    this.settings = settings;
  }

  /** The workload a pod belongs to, for the agent's metadata (Istio's WORKLOAD_NAME, OWNER). */
  public record Workload(String kind, String apiVersion, String name) {
    /** The workload of a pod as the API server has it: from its owner, else the pod itself. */
    public static Workload of(JsonNode pod) {
      JsonNode meta = pod.path("metadata");
      JsonNode owner = meta.path("ownerReferences").path(0);
      if (!owner.isMissingNode()) {
        String kind = owner.path("kind").asString("");
        String name = owner.path("name").asString("");
        // A ReplicaSet named <deployment>-<hash> belongs to that Deployment; a Job of a CronJob
        // is named <cronjob>-<time>.
        if ((kind.equals("ReplicaSet") || kind.equals("Job")) && name.lastIndexOf('-') > 0) {
          return new Workload(
              kind.equals("ReplicaSet") ? "Deployment" : "CronJob",
              kind.equals("ReplicaSet") ? "apps/v1" : "batch/v1",
              name.substring(0, name.lastIndexOf('-')));
        }
        return new Workload(kind, owner.path("apiVersion").asString("v1"), name);
      }
      String name = meta.path("name").asString("");
      if (name.isEmpty()) {
        name = meta.path("generateName").asString("pod");
        name = name.endsWith("-") ? name.substring(0, name.length() - 1) : name;
      }
      return new Workload("Pod", "v1", name);
    }

    /**
     * Istio's OWNER: always under {@code apis/}, the core group's {@code v1} included (its injector
     * writes {@code kubernetes://apis/v1/namespaces/default/pods/x}, and telemetry keys on that
     * string), though the API server's own path would be {@code api/v1}.
     */
    String owner(String namespace) {
      return "kubernetes://apis/"
          + apiVersion
          + "/namespaces/"
          + namespace
          + "/"
          + kind.toLowerCase(java.util.Locale.ROOT)
          + "s/"
          + name;
    }
  }

  /** The pod with its sidecar; {@code pod} has metadata and spec (a Pod or a pod template). */
  public ObjectNode inject(JsonNode pod, String namespace, Workload workload) {
    ObjectNode out = (ObjectNode) pod.deepCopy();
    ObjectNode meta = object(out, "metadata");
    ObjectNode spec = object(out, "spec");
    ObjectNode annotations = object(meta, "annotations");
    ObjectNode labels = object(meta, "labels");
    if (annotations.has(IstioAnnotations.SIDECAR_STATUS)) {
      return out;
    }
    TrafficAnnotations.check(annotations);
    int statusPort = TrafficAnnotations.statusPort(annotations, MeshPorts.AGENT_STATUS);
    String mode =
        annotation(annotations, IstioAnnotations.INTERCEPTION_MODE, settings.interceptionMode());
    if (!mode.equals("REDIRECT") && !mode.equals("TPROXY")) {
      throw new IllegalArgumentException(
          "annotation "
              + IstioAnnotations.INTERCEPTION_MODE
              + " must be REDIRECT or TPROXY, got '"
              + mode
              + "'");
    }
    ArrayNode containers = array(spec, "containers");
    List<String> appNames = new ArrayList<>();
    containers.forEach(c -> appNames.add(c.path("name").asString()));

    // The app's containers and its own native sidecars (init containers that keep running): the
    // kubelet probes both, so Istio sends both through the agent.
    List<JsonNode> probed = new ArrayList<>();
    containers.forEach(probed::add);
    spec.path("initContainers")
        .forEach(
            c -> {
              if (c.path("restartPolicy").asString("").equals("Always")) {
                probed.add(c);
              }
            });
    Map<String, JsonNode> probers = rewriteProbes(probed, annotations, statusPort);
    ObjectNode scrape = redirectPrometheus(annotations);

    Map<String, JsonNode> values = new LinkedHashMap<>();
    values.put(
        "proxyImage",
        NODES.stringNode(
            annotation(annotations, IstioAnnotations.PROXY_IMAGE, settings.proxyImage())));
    values.put("initArgs", initArgs(annotations, mode, statusPort));
    readiness(values, annotations);
    values.put("resources", resources(annotations));
    values.put("proxySecurityContext", proxySecurityContext(mode));
    values.put(
        "env", env(out, namespace, workload, mode, appNames, containers, labels, probers, scrape));
    ObjectNode rendered = template.render(values);
    if (statusPort == 0) {
      // Istio's template: no status server, so no readiness or startup probe on the sidecar.
      rendered.path("containers").forEach(c -> ((ObjectNode) c).remove(PROBES));
    }

    boolean nativeSidecar =
        Boolean.parseBoolean(
            annotation(
                annotations,
                IstioAnnotations.NATIVE_SIDECAR,
                String.valueOf(settings.nativeSidecars())));
    boolean hold = holdApplication(annotations);
    ArrayNode inits = array(spec, "initContainers");
    ArrayNode proxies = (ArrayNode) rendered.path("containers");
    int at = 0;
    for (JsonNode c : rendered.path("initContainers")) {
      inits.insert(at++, c.deepCopy()); // before the app's own init containers
    }
    if (nativeSidecar) {
      for (JsonNode p : proxies) {
        ObjectNode proxy = (ObjectNode) p.deepCopy();
        proxy.put("restartPolicy", "Always");
        inits.add(proxy);
      }
    } else if (hold) {
      for (int i = proxies.size() - 1; i >= 0; i--) {
        ObjectNode proxy = (ObjectNode) proxies.get(i).deepCopy();
        ObjectNode postStart = object(object(proxy, "lifecycle"), "postStart");
        ArrayNode command = object(postStart, "exec").putArray("command");
        // A short-lived JVM beside the sidecar's: small and quick to start.
        command
            .add("java")
            .add("-XX:TieredStopAtLevel=1")
            .add("-XX:+UseSerialGC")
            .add("-Xmx16m")
            .add("-jar")
            .add("/usr/local/lib/mesh/mesh-agent.jar")
            .add("wait");
        containers.insert(0, proxy);
      }
    } else {
      proxies.forEach(p -> containers.add(p.deepCopy()));
    }
    ArrayNode volumes = array(spec, "volumes");
    boolean noCa = caAddress(proxyConfig(out).path("discoveryAddress").asString("")) == null;
    for (JsonNode v : rendered.path("volumes")) {
      ObjectNode copy = (ObjectNode) v.deepCopy();
      if (noCa && copy.path("name").asString("").equals(ROOT_CERT_VOLUME)) {
        // No CA, so no istio-ca-root-cert to wait for: the pod starts, and the agent, which
        // finds no token or no CA, runs without a certificate.
        ((ObjectNode) copy.path("configMap")).put("optional", true);
      }
      volumes.add(copy);
    }

    List<String> statusInits = new ArrayList<>(List.of(INIT));
    List<String> statusContainers = new ArrayList<>();
    (nativeSidecar ? statusInits : statusContainers).add(PROXY);
    ObjectNode status = NODES.objectNode();
    status.set("initContainers", strings(statusInits));
    status.set("containers", strings(statusContainers));
    ArrayNode volumeNames = NODES.arrayNode();
    rendered.path("volumes").forEach(v -> volumeNames.add(v.path("name").asString()));
    status.set("volumes", volumeNames);
    status.putNull("imagePullSecrets");
    status.put("revision", settings.revision());
    annotations.put(IstioAnnotations.SIDECAR_STATUS, JSON.writeValueAsString(status));
    if (!appNames.isEmpty()) {
      putIfAbsent(annotations, "kubectl.kubernetes.io/default-container", appNames.get(0));
      putIfAbsent(annotations, "kubectl.kubernetes.io/default-logs-container", appNames.get(0));
    }
    putIfAbsent(labels, IstioLabels.TLS_MODE, "istio");
    putIfAbsent(labels, IstioLabels.CANONICAL_NAME, canonicalName(labels, workload));
    putIfAbsent(labels, IstioLabels.CANONICAL_REVISION, canonicalRevision(labels));
    return out;
  }

  private static final List<String> PROBES = List.of("readinessProbe", "startupProbe");

  /**
   * The sidecar's readinessProbe numbers: the pod's readiness annotations, else Istio's defaults
   * (its values.global.proxy.readiness*: 0 s delay, every 15 s, 4 failures).
   */
  private static void readiness(Map<String, JsonNode> values, ObjectNode annotations) {
    String[][] fields = {
      {"readinessInitialDelaySeconds", IstioAnnotations.READINESS_INITIAL_DELAY_SECONDS, "0"},
      {"readinessPeriodSeconds", IstioAnnotations.READINESS_PERIOD_SECONDS, "15"},
      {"readinessFailureThreshold", IstioAnnotations.READINESS_FAILURE_THRESHOLD, "4"},
    };
    for (String[] f : fields) {
      values.put(
          f[0], NODES.numberNode(Long.parseLong(annotation(annotations, f[1], f[2]).strip())));
    }
  }

  private JsonNode initArgs(ObjectNode annotations, String mode, int statusPort) {
    String excluded =
        excludeInboundPort(
            statusPort, annotation(annotations, IstioAnnotations.EXCLUDE_INBOUND_PORTS, ""));
    String excludeInbound = "15090,15021" + (excluded.isEmpty() ? "" : "," + excluded);
    return strings(
        List.of(
            "-p", String.valueOf(MeshPorts.OUTBOUND_CAPTURE),
            "-z", String.valueOf(MeshPorts.INBOUND_CAPTURE),
            "-u", String.valueOf(ProxyUser.UID),
            "-g", String.valueOf(ProxyUser.GID),
            "-m", mode,
            "-i", annotation(annotations, IstioAnnotations.INCLUDE_OUTBOUND_IP_RANGES, "*"),
            "-x", annotation(annotations, IstioAnnotations.EXCLUDE_OUTBOUND_IP_RANGES, ""),
            "-b", annotation(annotations, IstioAnnotations.INCLUDE_INBOUND_PORTS, "*"),
            "-d", excludeInbound,
            "-o", annotation(annotations, IstioAnnotations.EXCLUDE_OUTBOUND_PORTS, ""),
            "-q", annotation(annotations, IstioAnnotations.INCLUDE_OUTBOUND_PORTS, "")));
  }

  /**
   * Istio's excludeInboundPort: the pod's excludeInboundPorts with the status port appended when it
   * is not already there (the list as written when it is); nothing added for 0, the status server
   * being off.
   */
  static String excludeInboundPort(int statusPort, String excluded) {
    if (statusPort == 0) {
      return excluded;
    }
    String port = String.valueOf(statusPort);
    List<String> kept = new ArrayList<>();
    for (String p : excluded.split(",", -1)) {
      if (p.equals(port)) {
        return excluded;
      }
      if (!p.isBlank()) {
        kept.add(p.strip());
      }
    }
    kept.add(port);
    return String.join(",", kept);
  }

  /**
   * Requests and limits as Istio's template sets them: with any of the four resource annotations,
   * exactly what they say (proxyCPU alone is a CPU request and nothing else); with none, the
   * defaults.
   */
  private static JsonNode resources(ObjectNode annotations) {
    String[][] annotated = {
      {"requests", "cpu", IstioAnnotations.PROXY_CPU},
      {"requests", "memory", IstioAnnotations.PROXY_MEMORY},
      {"limits", "cpu", IstioAnnotations.PROXY_CPU_LIMIT},
      {"limits", "memory", IstioAnnotations.PROXY_MEMORY_LIMIT},
    };
    ObjectNode r = NODES.objectNode();
    for (String[] a : annotated) {
      if (annotations.path(a[2]).isString()) {
        ObjectNode part = r.has(a[0]) ? (ObjectNode) r.get(a[0]) : r.putObject(a[0]);
        part.put(a[1], annotations.path(a[2]).asString());
      }
    }
    if (!r.isEmpty()) {
      return r;
    }
    r.putObject("requests").put("cpu", "100m").put("memory", "128Mi");
    r.putObject("limits").put("cpu", "2000m").put("memory", "1024Mi");
    return r;
  }

  /**
   * REDIRECT: the agent and proxy run as 1337 with no capabilities. TPROXY: the agent starts as
   * root with just what it needs to start the proxy as 1337 keeping NET_ADMIN (its transparent
   * listener needs it).
   */
  private static JsonNode proxySecurityContext(String mode) {
    ObjectNode sc = NODES.objectNode();
    sc.put("allowPrivilegeEscalation", false);
    sc.put("privileged", false);
    sc.put("readOnlyRootFilesystem", true);
    ObjectNode caps = sc.putObject("capabilities");
    caps.putArray("drop").add("ALL");
    if (mode.equals("TPROXY")) {
      // Istio's TPROXY sidecar: root for the transparent listener's CAP_NET_ADMIN (added
      // capabilities reach only uid 0's processes), group 1337 for capture to exempt by gid.
      caps.putArray("add").add("NET_ADMIN");
      sc.put("runAsUser", 0);
      sc.put("runAsGroup", ProxyUser.GID);
      sc.put("runAsNonRoot", false);
    } else {
      sc.put("runAsUser", ProxyUser.UID);
      sc.put("runAsGroup", ProxyUser.GID);
      sc.put("runAsNonRoot", true);
    }
    return sc;
  }

  private JsonNode env(
      ObjectNode pod,
      String namespace,
      Workload workload,
      String mode,
      List<String> appNames,
      ArrayNode containers,
      ObjectNode labels,
      Map<String, JsonNode> probers,
      ObjectNode scrape) {
    ArrayNode env = NODES.arrayNode();
    ObjectNode proxyConfig = proxyConfig(pod);
    String ca = caAddress(proxyConfig.path("discoveryAddress").asString(""));
    if (ca != null) {
      value(env, AgentEnv.CA_ADDR, ca);
    }
    fieldRef(env, AgentEnv.POD_NAME, "metadata.name");
    fieldRef(env, AgentEnv.POD_NAMESPACE, "metadata.namespace");
    fieldRef(env, AgentEnv.INSTANCE_IP, "status.podIP");
    fieldRef(env, AgentEnv.SERVICE_ACCOUNT, "spec.serviceAccountName");
    fieldRef(env, AgentEnv.HOST_IP, "status.hostIP");
    ObjectNode cpu = env.addObject().put("name", AgentEnv.CPU_LIMIT).putObject("valueFrom");
    cpu.putObject("resourceFieldRef").put("resource", "limits.cpu");
    value(env, AgentEnv.PROXY_CONFIG, JSON.writeValueAsString(proxyConfig));
    ArrayNode ports = NODES.arrayNode();
    containers.forEach(c -> c.path("ports").forEach(p -> ports.add(p.deepCopy())));
    value(env, AgentEnv.META_POD_PORTS, JSON.writeValueAsString(ports));
    value(env, AgentEnv.META_APP_CONTAINERS, String.join(",", appNames));
    value(env, AgentEnv.META_CLUSTER_ID, "Kubernetes");
    fieldRef(env, AgentEnv.META_NODE_NAME, "spec.nodeName");
    value(env, AgentEnv.META_INTERCEPTION_MODE, mode);
    value(env, AgentEnv.META_WORKLOAD_NAME, workload.name());
    value(env, AgentEnv.META_OWNER, workload.owner(namespace));
    value(env, AgentEnv.META_MESH_ID, settings.trustDomain());
    value(env, AgentEnv.TRUST_DOMAIN, settings.trustDomain());
    value(env, "ISTIO_METAJSON_LABELS", JSON.writeValueAsString(labels));
    if (!probers.isEmpty()) {
      ObjectNode all = NODES.objectNode();
      probers.forEach(all::set);
      value(env, AgentEnv.KUBE_APP_PROBERS, JSON.writeValueAsString(all));
    }
    if (scrape != null) {
      value(env, AgentEnv.PROMETHEUS_ANNOTATIONS, JSON.writeValueAsString(scrape));
    }
    // ProxyConfig's proxyMetadata: variables for the sidecar's environment, as Istio's template.
    proxyConfig
        .path("proxyMetadata")
        .properties()
        .forEach(e -> value(env, e.getKey(), e.getValue().asString()));
    return env;
  }

  /**
   * Istio's CA_ADDR: pilot's CA where it serves xDS over TLS, the discovery address's host on
   * 15012. None for a Unix socket: the local mesh's pilot serves its socket and no CA.
   */
  static String caAddress(String discovery) {
    if (discovery.isEmpty() || discovery.startsWith("unix://")) {
      return null;
    }
    int colon = discovery.lastIndexOf(':');
    String host = colon > 0 ? discovery.substring(0, colon) : discovery;
    return host + ":" + dev.mesh.api.MeshPorts.PILOT_XDS_TLS;
  }

  /** The mesh's ProxyConfig with the pod's proxy.istio.io/config over it. */
  private ObjectNode proxyConfig(ObjectNode pod) {
    ObjectNode config = NODES.objectNode();
    config.put("discoveryAddress", settings.discoveryAddress());
    ObjectNode override = podProxyConfig(pod.path("metadata").path("annotations"));
    if (override != null) {
      config.setAll(override);
    }
    return config;
  }

  private static ObjectNode podProxyConfig(JsonNode annotations) {
    String text = annotations.path(IstioAnnotations.PROXY_CONFIG).asString("");
    if (text.isBlank()) {
      return null;
    }
    JsonNode parsed;
    try {
      parsed = YAMLMapper.builder().build().readTree(text);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "annotation " + IstioAnnotations.PROXY_CONFIG + " is not valid YAML: " + e.getMessage());
    }
    if (!(parsed instanceof ObjectNode o)) {
      throw new IllegalArgumentException(
          "annotation " + IstioAnnotations.PROXY_CONFIG + " must be a ProxyConfig mapping");
    }
    return o;
  }

  private boolean holdApplication(ObjectNode annotations) {
    ObjectNode config = podProxyConfig(annotations);
    if (config != null && config.has("holdApplicationUntilProxyStarts")) {
      return config.path("holdApplicationUntilProxyStarts").asBoolean(false);
    }
    return settings.holdApplicationUntilProxyStarts();
  }

  /**
   * The app's httpGet and tcpSocket probes go to the agent's status port, which runs the originals
   * (ISTIO_KUBE_APP_PROBERS): with capture on, the kubelet could not reach the app itself.
   */
  private static Map<String, JsonNode> rewriteProbes(
      List<JsonNode> containers, ObjectNode annotations, int statusPort) {
    Map<String, JsonNode> probers = new LinkedHashMap<>();
    // Status port 0: no agent to send them to, so the kubelet keeps probing the app itself.
    if (statusPort == 0
        || annotation(annotations, IstioAnnotations.REWRITE_APP_HTTP_PROBERS, "true")
            .equals("false")) {
      return probers;
    }
    for (JsonNode c : containers) {
      ObjectNode container = (ObjectNode) c;
      String name = container.path("name").asString();
      for (String[] kind :
          new String[][] {
            {"livenessProbe", "livez"}, {"readinessProbe", "readyz"}, {"startupProbe", "startupz"}
          }) {
        JsonNode probe = container.path(kind[0]);
        String handler =
            probe.has("httpGet") ? "httpGet" : probe.has("tcpSocket") ? "tcpSocket" : null;
        if (handler == null) {
          continue;
        }
        String path = "/app-health/" + name + "/" + kind[1];
        ObjectNode original = NODES.objectNode();
        ObjectNode target = (ObjectNode) probe.path(handler).deepCopy();
        target.put("port", portNumber(container, target.path("port")));
        original.set(handler, target);
        if (probe.has("timeoutSeconds")) {
          original.set("timeoutSeconds", probe.path("timeoutSeconds"));
        }
        probers.put(path, original);
        ObjectNode rewritten = (ObjectNode) probe.deepCopy();
        rewritten.remove(handler);
        ObjectNode get = rewritten.putObject("httpGet");
        get.put("path", path);
        get.put("port", statusPort);
        get.put("scheme", "HTTP");
        container.set(kind[0], rewritten);
      }
      rewriteLifecycle(container, name, probers, statusPort);
    }
    return probers;
  }

  /**
   * Istio's lifecycle probers: an httpGet or tcpSocket preStop or postStart hook goes through the
   * agent too ({@code /app-lifecycle/<container>/prestopz|poststartz} on its status port), which
   * makes the original call from inside the pod, so that mutual TLS on the app's port does not
   * break it.
   */
  private static void rewriteLifecycle(
      ObjectNode container, String name, Map<String, JsonNode> probers, int statusPort) {
    if (!(container.path("lifecycle") instanceof ObjectNode lifecycle)) {
      return;
    }
    for (String[] hook : new String[][] {{"preStop", "prestopz"}, {"postStart", "poststartz"}}) {
      JsonNode handler = lifecycle.path(hook[0]);
      String kind =
          handler.has("httpGet") ? "httpGet" : handler.has("tcpSocket") ? "tcpSocket" : null;
      if (kind == null) {
        continue;
      }
      String path = "/app-lifecycle/" + name + "/" + hook[1];
      ObjectNode target = (ObjectNode) handler.path(kind).deepCopy();
      target.put("port", portNumber(container, target.path("port")));
      ObjectNode original = NODES.objectNode();
      original.set(kind, target);
      probers.put(path, original);
      ObjectNode rewritten = NODES.objectNode();
      ObjectNode get = rewritten.putObject("httpGet");
      get.put("path", path);
      get.put("port", statusPort);
      get.put("scheme", "HTTP");
      lifecycle.set(hook[0], rewritten);
    }
  }

  /** A probe's port, a number or the name of one of the container's ports, as a number. */
  private static int portNumber(ObjectNode container, JsonNode port) {
    if (port.isNumber() || port.asString("").matches("[0-9]+")) {
      return port.asInt();
    }
    for (JsonNode p : container.path("ports")) {
      if (p.path("name").asString("").equals(port.asString())) {
        return p.path("containerPort").asInt();
      }
    }
    throw new IllegalArgumentException(
        "container "
            + container.path("name").asString()
            + ": probe port '"
            + port.asString()
            + "' is not one of its named ports");
  }

  /**
   * Istio's metrics merging: Prometheus is pointed at the agent (15020), which serves the proxy's
   * metrics and the app's, read from the app's original target (returned, for the agent's env).
   * Always 15020, the mesh's status port, whatever the pod's status.sidecar.istio.io/port says:
   * Istio's injector writes the same (its testdata status_params and status_annotations).
   */
  private static ObjectNode redirectPrometheus(ObjectNode annotations) {
    if (annotation(annotations, IstioAnnotations.MERGE_METRICS, "true").equals("false")
        || annotation(annotations, IstioAnnotations.PROMETHEUS_SCRAPE, "true").equals("false")) {
      return null;
    }
    ObjectNode original = null;
    if (annotations.has(IstioAnnotations.PROMETHEUS_SCRAPE)) {
      original = NODES.objectNode();
      original.put("scrape", annotations.path(IstioAnnotations.PROMETHEUS_SCRAPE).asString());
      original.put("path", annotation(annotations, IstioAnnotations.PROMETHEUS_PATH, "/metrics"));
      original.put("port", annotation(annotations, IstioAnnotations.PROMETHEUS_PORT, "80"));
    }
    annotations.put(IstioAnnotations.PROMETHEUS_SCRAPE, "true");
    annotations.put(IstioAnnotations.PROMETHEUS_PORT, String.valueOf(MeshPorts.AGENT_STATUS));
    annotations.put(IstioAnnotations.PROMETHEUS_PATH, "/stats/prometheus");
    return original;
  }

  private static String canonicalName(ObjectNode labels, Workload workload) {
    for (String l : List.of(IstioLabels.K8S_APP_NAME, IstioLabels.APP)) {
      if (labels.has(l)) {
        return labels.path(l).asString();
      }
    }
    return workload.name();
  }

  private static String canonicalRevision(ObjectNode labels) {
    for (String l : List.of(IstioLabels.K8S_APP_VERSION, IstioLabels.VERSION)) {
      if (labels.has(l)) {
        return labels.path(l).asString();
      }
    }
    return "latest";
  }

  private static void fieldRef(ArrayNode env, String name, String path) {
    ObjectNode from = env.addObject().put("name", name).putObject("valueFrom");
    from.putObject("fieldRef").put("fieldPath", path);
  }

  private static void value(ArrayNode env, String name, String value) {
    env.addObject().put("name", name).put("value", value);
  }

  private static String annotation(ObjectNode annotations, String name, String otherwise) {
    JsonNode v = annotations.get(name);
    return v == null || v.isNull() ? otherwise : v.asString();
  }

  private static void putIfAbsent(ObjectNode o, String name, String value) {
    if (!o.has(name)) {
      o.put(name, value);
    }
  }

  private static ArrayNode strings(List<String> values) {
    ArrayNode a = NODES.arrayNode();
    values.forEach(a::add);
    return a;
  }

  static ObjectNode object(ObjectNode parent, String name) {
    JsonNode n = parent.get(name);
    if (n instanceof ObjectNode o) {
      return o;
    }
    return parent.putObject(name);
  }

  static ArrayNode array(ObjectNode parent, String name) {
    JsonNode n = parent.get(name);
    if (n instanceof ArrayNode a) {
      return a;
    }
    return parent.putArray(name);
  }
}
