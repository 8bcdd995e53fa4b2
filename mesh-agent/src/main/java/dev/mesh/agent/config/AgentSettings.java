package dev.mesh.agent.config;

import dev.mesh.api.AgentEnv;
import dev.mesh.api.IstioAnnotations;
import dev.mesh.api.MeshPorts;
import dev.mesh.api.NodeId;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Everything the agent is told, from the environment the injector sets, under Istio's names
 * (ARCHITECTURE.md): who the pod is, where pilot is (PROXY_CONFIG's discoveryAddress), node
 * metadata (ISTIO_META_*, ISTIO_METAJSON_*), the app's original scrape target and probes, the
 * proxy's worker threads (ProxyConfig's concurrency), the status port (ProxyConfig's statusPort,
 * then the pod's status.sidecar.istio.io/port, as Istio's agent), the workload identity's files and
 * CA ({@link IdentitySettings}). A value that cannot be understood stops the agent with a message
 * naming the variable.
 */
public record AgentSettings(
    String podName,
    String podNamespace,
    String instanceIp,
    String serviceAccount,
    String discoveryAddress,
    Duration terminationDrainDuration,
    boolean exitOnZeroActiveConnections,
    String interceptionMode,
    Map<String, String> metadata,
    Map<String, JsonNode> jsonMetadata,
    JsonNode prometheusTarget,
    JsonNode appProbers,
    Path configDir,
    int concurrency,
    int statusPort,
    IdentitySettings identity) {

  /** Istio's default discovery address inside a cluster: xDS over mutual TLS, with the CA. */
  public static final String DEFAULT_DISCOVERY = "mesh-pilot.mesh-system.svc:15012";

  /** Istio's sidecar default for ProxyConfig's {@code concurrency}: two worker threads. */
  public static final int DEFAULT_CONCURRENCY = 2;

  // Mesh-specific, no Istio name: where the bootstrap is written.
  public static final String CONFIG_DIR = "MESH_CONFIG_DIR";
  static final String META_JSON_PREFIX = "ISTIO_METAJSON_";

  public static AgentSettings fromEnvironment(Map<String, String> env) {
    String ip = required(env, AgentEnv.INSTANCE_IP);
    String pod = required(env, AgentEnv.POD_NAME);
    String ns = required(env, AgentEnv.POD_NAMESPACE);
    JsonNode proxyConfig = parse(env, AgentEnv.PROXY_CONFIG, true);
    String discovery =
        proxyConfig != null && proxyConfig.hasNonNull("discoveryAddress")
            ? proxyConfig.get("discoveryAddress").asString()
            : DEFAULT_DISCOVERY;
    Duration drain = Duration.ofSeconds(5);
    if (proxyConfig != null && proxyConfig.hasNonNull("terminationDrainDuration")) {
      drain = duration(proxyConfig.get("terminationDrainDuration").asString());
    }
    int concurrency = DEFAULT_CONCURRENCY;
    if (proxyConfig != null && proxyConfig.hasNonNull("concurrency")) {
      JsonNode c = proxyConfig.get("concurrency");
      if (!c.canConvertToInt() || c.asInt() < 0) {
        throw new IllegalArgumentException(
            "PROXY_CONFIG concurrency must be a number of worker threads (0: one per CPU), got '"
                + c
                + "'");
      }
      concurrency = c.asInt() == 0 ? Runtime.getRuntime().availableProcessors() : c.asInt();
    }
    int statusPort = statusPort(env, proxyConfig);
    String drainSeconds = env.get(AgentEnv.TERMINATION_DRAIN_DURATION_SECONDS);
    if (drainSeconds != null && !drainSeconds.isBlank()) {
      try {
        drain = Duration.ofSeconds(Long.parseLong(drainSeconds.strip()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            AgentEnv.TERMINATION_DRAIN_DURATION_SECONDS
                + " must be a number of seconds, got '"
                + drainSeconds
                + "'");
      }
    }
    Map<String, String> meta = new TreeMap<>();
    Map<String, JsonNode> jsonMeta = new TreeMap<>();
    env.forEach(
        (k, v) -> {
          if (k.startsWith(META_JSON_PREFIX)) {
            jsonMeta.put(k.substring(META_JSON_PREFIX.length()), parse(env, k, false));
          } else if (k.startsWith(AgentEnv.META_PREFIX)) {
            meta.put(k.substring(AgentEnv.META_PREFIX.length()), v);
          }
        });
    String mode = meta.getOrDefault("INTERCEPTION_MODE", "REDIRECT");
    if (!mode.equals("REDIRECT") && !mode.equals("TPROXY") && !mode.equals("NONE")) {
      throw new IllegalArgumentException(
          AgentEnv.META_INTERCEPTION_MODE
              + " must be REDIRECT, TPROXY or NONE, got '"
              + mode
              + "'");
    }
    return new AgentSettings(
        pod,
        ns,
        ip,
        env.getOrDefault(AgentEnv.SERVICE_ACCOUNT, "default"),
        discovery,
        drain,
        "true".equalsIgnoreCase(env.get(AgentEnv.EXIT_ON_ZERO_ACTIVE_CONNECTIONS)),
        mode,
        meta,
        jsonMeta,
        parse(env, AgentEnv.PROMETHEUS_ANNOTATIONS, false),
        parse(env, AgentEnv.KUBE_APP_PROBERS, false),
        Path.of(env.getOrDefault(CONFIG_DIR, "/etc/istio/proxy")),
        concurrency,
        statusPort,
        IdentitySettings.fromEnvironment(env, discovery));
  }

  /** The same settings with other identity settings (tests: temporary files, short lifetimes). */
  public AgentSettings withIdentity(IdentitySettings id) {
    return new AgentSettings(
        podName,
        podNamespace,
        instanceIp,
        serviceAccount,
        discoveryAddress,
        terminationDrainDuration,
        exitOnZeroActiveConnections,
        interceptionMode,
        metadata,
        jsonMetadata,
        prometheusTarget,
        appProbers,
        configDir,
        concurrency,
        statusPort,
        id);
  }

  /**
   * Istio's agent: ProxyConfig's statusPort (15020 unless set), overridden by the pod's
   * status.sidecar.istio.io/port from the downward API, which the injector leaves out of
   * PROXY_CONFIG. 0: no status server.
   */
  private static int statusPort(Map<String, String> env, JsonNode proxyConfig) {
    int port = MeshPorts.AGENT_STATUS;
    if (proxyConfig != null && proxyConfig.hasNonNull("statusPort")) {
      JsonNode p = proxyConfig.get("statusPort");
      port = port(p.isNumber() ? p.asString() : p.asString("?"), "PROXY_CONFIG statusPort");
    }
    Path file = Path.of(env.getOrDefault(PodAnnotations.PATH_ENV, PodAnnotations.PATH.toString()));
    String annotated = PodAnnotations.read(file).get(IstioAnnotations.STATUS_PORT);
    if (annotated != null) {
      port =
          port(annotated.strip(), "annotation " + IstioAnnotations.STATUS_PORT + " (" + file + ")");
    }
    return port;
  }

  private static int port(String text, String what) {
    if (!text.matches("[0-9]{1,5}") || Integer.parseInt(text) > 65535) {
      throw new IllegalArgumentException(
          what + " must be a port in 0..65535 (0: no status server), got '" + text + "'");
    }
    return Integer.parseInt(text);
  }

  /** The proxy's node id, Istio's: {@code sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local}. */
  public NodeId nodeId() {
    return NodeId.sidecar(instanceIp, podName, podNamespace);
  }

  private static String required(Map<String, String> env, String name) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      throw new IllegalArgumentException(
          name + " is not set (the injector sets it from the downward API)");
    }
    return v.strip();
  }

  private static final ObjectMapper YAML = new YAMLMapper();

  /** A JSON (or, for PROXY_CONFIG, YAML) value of a variable; null when it is unset. */
  private static JsonNode parse(Map<String, String> env, String name, boolean yaml) {
    String v = env.get(name);
    if (v == null || v.isBlank()) {
      return null;
    }
    try {
      return yaml ? YAML.readTree(v) : new ObjectMapper().readTree(v);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          name + " is not valid " + (yaml ? "YAML" : "JSON") + ": " + firstLine(e.getMessage()));
    }
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }

  /** A protobuf-style duration as ProxyConfig writes it: "5s", "1.5s", "500ms", "1m". */
  static Duration duration(String text) {
    String t = text.strip();
    try {
      if (t.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
      }
      if (t.endsWith("s")) {
        return Duration.ofMillis(
            Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
      }
      if (t.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(t.substring(0, t.length() - 1)));
      }
    } catch (NumberFormatException e) {
      // said below
    }
    throw new IllegalArgumentException(
        "PROXY_CONFIG terminationDrainDuration must be a duration such as 5s, got '" + text + "'");
  }
}
