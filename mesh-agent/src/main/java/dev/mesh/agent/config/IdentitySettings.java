package dev.mesh.agent.config;

import dev.mesh.api.AgentEnv;
import dev.mesh.api.MeshPorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Where the workload's identity comes from and how it is kept fresh, under Istio's names and
 * defaults: the projected token and the mesh's root as the injector mounts them, the CA at CA_ADDR
 * (else the discovery address's host on 15012), SECRET_TTL and SECRET_GRACE_PERIOD_RATIO, and the
 * SDS socket the proxy reads its secrets from. The paths are settings so that tests can point them
 * at temporary directories; MESH_* variables are ours (Istio has only its constants).
 */
public record IdentitySettings(
    String caAddress,
    boolean caAddressSet,
    Path tokenPath,
    Path rootCertPath,
    Path sdsSocket,
    String trustDomain,
    Duration secretTtl,
    double gracePeriodRatio,
    double gracePeriodJitter,
    Duration retryInitial,
    Duration retryMax,
    Duration rootCheckPeriod) {

  public static final Path TOKEN_PATH = Path.of("/var/run/secrets/tokens/istio-token");
  public static final Path ROOT_CERT_PATH = Path.of("/var/run/secrets/istio/root-cert.pem");

  /**
   * Istio's ./var/run/secrets/workload-spiffe-uds/socket, written from the root: Istio's agent runs
   * in / and the path is relative to it, but a container need not start there (the local kubelet's
   * do not), and the mounted volume is at this absolute path whatever the working directory.
   */
  public static final Path SDS_SOCKET = Path.of("/var/run/secrets/workload-spiffe-uds/socket");

  public static final String SECRET_TTL = "SECRET_TTL";
  public static final String SECRET_GRACE_PERIOD_RATIO = "SECRET_GRACE_PERIOD_RATIO";
  public static final String SECRET_GRACE_PERIOD_RATIO_JITTER = "SECRET_GRACE_PERIOD_RATIO_JITTER";
  public static final String TOKEN_PATH_ENV = "MESH_TOKEN_PATH";
  public static final String ROOT_CERT_PATH_ENV = "MESH_CA_ROOT_CERT";
  public static final String SDS_SOCKET_ENV = "MESH_SDS_SOCKET";

  /**
   * Whether this pod has identity material: a projected token, or a CA it was told to use. The
   * local mesh without tokens has neither and runs as before, with no certificate.
   */
  public boolean enabled() {
    return caAddressSet || Files.exists(tokenPath);
  }

  /** The same settings with other files: the tests' temporary token, root and socket. */
  public IdentitySettings withFiles(Path token, Path root, Path socket) {
    return new IdentitySettings(
        caAddress,
        caAddressSet,
        token,
        root,
        socket,
        trustDomain,
        secretTtl,
        gracePeriodRatio,
        gracePeriodJitter,
        retryInitial,
        retryMax,
        rootCheckPeriod);
  }

  /** The same settings with another CA address (set explicitly, as CA_ADDR would). */
  public IdentitySettings withCaAddress(String address) {
    return new IdentitySettings(
        address,
        true,
        tokenPath,
        rootCertPath,
        sdsSocket,
        trustDomain,
        secretTtl,
        gracePeriodRatio,
        gracePeriodJitter,
        retryInitial,
        retryMax,
        rootCheckPeriod);
  }

  /** The same settings with another lifetime asked of the CA, retry pace and root check period. */
  public IdentitySettings withTiming(
      Duration ttl, Duration retryInitial, Duration retryMax, Duration rootCheck) {
    return new IdentitySettings(
        caAddress,
        caAddressSet,
        tokenPath,
        rootCertPath,
        sdsSocket,
        trustDomain,
        ttl,
        gracePeriodRatio,
        gracePeriodJitter,
        retryInitial,
        retryMax,
        rootCheck);
  }

  static IdentitySettings fromEnvironment(Map<String, String> env, String discoveryAddress) {
    String ca = blankToNull(env.get(AgentEnv.CA_ADDR));
    boolean set = ca != null;
    if (ca == null) {
      ca = defaultCaAddress(discoveryAddress);
    }
    double ratio = ratio(env, SECRET_GRACE_PERIOD_RATIO, 0.5);
    double jitter = ratio(env, SECRET_GRACE_PERIOD_RATIO_JITTER, 0.01);
    Duration ttl = Duration.ofHours(24);
    String ttlText = blankToNull(env.get(SECRET_TTL));
    if (ttlText != null) {
      ttl = GoDurations.parse(SECRET_TTL, ttlText);
    }
    return new IdentitySettings(
        ca,
        set,
        path(env, TOKEN_PATH_ENV, TOKEN_PATH),
        path(env, ROOT_CERT_PATH_ENV, ROOT_CERT_PATH),
        path(env, SDS_SOCKET_ENV, SDS_SOCKET),
        env.getOrDefault(AgentEnv.TRUST_DOMAIN, "cluster.local").strip(),
        ttl,
        ratio,
        jitter,
        Duration.ofMillis(500),
        Duration.ofSeconds(30),
        Duration.ofSeconds(2));
  }

  /**
   * Istio's default: istiod serves the CA where it serves xDS over TLS, so the discovery address's
   * host on 15012. A Unix socket (the local mesh) names no CA.
   */
  static String defaultCaAddress(String discovery) {
    if (discovery == null || discovery.startsWith("unix://")) {
      return null;
    }
    int colon = discovery.lastIndexOf(':');
    String host = colon > 0 ? discovery.substring(0, colon) : discovery;
    return host + ":" + MeshPorts.PILOT_XDS_TLS;
  }

  private static Path path(Map<String, String> env, String name, Path fallback) {
    String v = blankToNull(env.get(name));
    return v == null ? fallback : Path.of(v);
  }

  private static double ratio(Map<String, String> env, String name, double fallback) {
    String v = blankToNull(env.get(name));
    if (v == null) {
      return fallback;
    }
    try {
      double d = Double.parseDouble(v);
      if (d >= 0 && d <= 1) {
        return d;
      }
    } catch (NumberFormatException e) {
      // said below
    }
    throw new IllegalArgumentException(name + " must be a number from 0 to 1, got '" + v + "'");
  }

  private static String blankToNull(String v) {
    return v == null || v.isBlank() ? null : v.strip();
  }
}
