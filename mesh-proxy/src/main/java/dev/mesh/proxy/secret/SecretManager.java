package dev.mesh.proxy.secret;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import io.envoyproxy.envoy.config.core.v3.ApiConfigSource;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * The secrets of every TLS context, as Envoy's Secret::SecretManager keeps them: the bootstrap's
 * static ones by name, and one SDS subscription per (source, name), shared by every listener and
 * cluster that names it. A source is the ADS stream ({@code ads: {}}) or a gRPC SDS server reached
 * through a static cluster ({@code api_config_source} with {@code envoy_grpc}).
 */
public final class SecretManager {
  private static final Logger LOG = Logger.getLogger(SecretManager.class.getName());

  public static final String STATIC = "static";
  public static final String ADS = "ads";
  private static final String GRPC = "grpc:";

  private record Key(String source, String name) {}

  private final Map<String, DynamicSecret> statics = new LinkedHashMap<>();
  private final Map<Key, DynamicSecret> dynamic = new LinkedHashMap<>();
  private final Map<String, SecretSource> sources = new LinkedHashMap<>();
  private final ScheduledExecutorService timer;
  private Function<String, SecretSource> grpcSources;

  /** {@code timer} ends initial fetches that time out. */
  public SecretManager(ScheduledExecutorService timer) {
    this.timer = timer;
  }

  /** The bootstrap's static_resources.secrets, validated; before any TLS context names them. */
  public synchronized void loadStatic(List<Secret> staticSecrets) {
    for (Secret s : staticSecrets) {
      dev.mesh.proxy.config.SupportedFields.check(s);
      SecretValidator.validate(s);
      if (statics.put(s.getName(), DynamicSecret.fixed(s)) != null) {
        throw new ConfigRejectedException(
            "static_resources.secrets: duplicate secret name '" + s.getName() + "'");
      }
    }
  }

  /**
   * The provider of an SdsSecretConfig: a static secret when it has no sds_config, else the shared
   * subscription of its source. Refuses a source mesh-proxy cannot reach.
   */
  public synchronized SecretProvider provider(SdsSecretConfig config, String where) {
    if (config.getName().isEmpty()) {
      throw new ConfigRejectedException(where + ": an SDS secret config needs a name");
    }
    if (!config.hasSdsConfig()) {
      DynamicSecret s = statics.get(config.getName());
      if (s == null) {
        throw new ConfigRejectedException(
            where
                + ": secret '"
                + config.getName()
                + "' has no sds_config and is not in static_resources.secrets");
      }
      return s;
    }
    String source = source(config.getSdsConfig(), where);
    Key key = new Key(source, config.getName());
    DynamicSecret existing = dynamic.get(key);
    if (existing != null) {
      return existing;
    }
    if (grpcSources != null && source.startsWith(GRPC)) {
      try {
        sourceFor(source);
      } catch (ConfigRejectedException e) {
        throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
      }
    }
    DynamicSecret fresh = new DynamicSecret(source, config.getName());
    dynamic.put(key, fresh);
    LOG.info("SDS: subscribing to secret '" + config.getName() + "' from " + describe(source));
    Duration timeout = initialFetchTimeout(config.getSdsConfig());
    if (!timeout.isZero()) {
      timer.schedule(
          () -> {
            if (!fresh.settled()) {
              LOG.warning(
                  "SDS: secret '"
                      + fresh.name()
                      + "' not received within initial_fetch_timeout "
                      + timeout.toMillis()
                      + " ms; what waits for it stops waiting");
              fresh.initialFetchTimedOut();
            }
          },
          timeout.toMillis(),
          TimeUnit.MILLISECONDS);
    }
    if (grpcSources != null && source.startsWith(GRPC)) {
      sourceFor(source).subscriptionsChanged();
    }
    return fresh;
  }

  /**
   * Opens the gRPC sources; until then subscriptions are only recorded, because the static cluster
   * a source names may be built in the same apply as the cluster that needs the secret.
   */
  public void start(Function<String, SecretSource> grpcSources) {
    List<SecretSource> opened = new ArrayList<>();
    synchronized (this) {
      this.grpcSources = grpcSources;
      for (Key k : dynamic.keySet()) {
        if (k.source().startsWith(GRPC) && !sources.containsKey(k.source())) {
          opened.add(sourceFor(k.source()));
        }
      }
    }
    opened.forEach(SecretSource::subscriptionsChanged);
  }

  private SecretSource sourceFor(String source) {
    return sources.computeIfAbsent(source, s -> grpcSources.apply(s.substring(GRPC.length())));
  }

  /** The secret names subscribed from a source: {@link #ADS} or a gRPC SDS cluster's name. */
  public synchronized Set<String> names(String source) {
    Set<String> out = new TreeSet<>();
    for (Key k : dynamic.keySet()) {
      if (k.source().equals(source)) {
        out.add(k.name());
      }
    }
    return out;
  }

  /** The source key of a gRPC SDS cluster, for {@link #names} and {@link #apply}. */
  public static String grpcSource(String cluster) {
    return GRPC + cluster;
  }

  /**
   * Applies what a source sent: every secret is validated first and one bad secret refuses the
   * whole response (NACKed by the caller with this reason), leaving the last good ones serving.
   * Names nobody subscribed to are ignored, as Envoy ignores them.
   */
  public void apply(String source, Collection<Secret> secrets, String version) {
    for (Secret s : secrets) {
      dev.mesh.proxy.config.SupportedFields.check(s);
      SecretValidator.validate(s);
    }
    List<DynamicSecret> changed = new ArrayList<>();
    synchronized (this) {
      for (Secret s : secrets) {
        DynamicSecret d = dynamic.get(new Key(source, s.getName()));
        if (d != null && d.update(s, version)) {
          changed.add(d);
        }
      }
    }
    for (DynamicSecret d : changed) {
      LOG.info(
          "SDS: secret '"
              + d.name()
              + "' version "
              + version
              + " from "
              + describe(source)
              + " in force");
      d.notifyWatchers(); // outside the lock: watchers bind listeners and promote clusters
    }
  }

  /** Static secrets, for config_dump. */
  public synchronized List<SecretView> staticSecrets() {
    return statics.values().stream().map(SecretManager::view).toList();
  }

  /** Dynamic secrets, for config_dump: active ones have arrived, warming ones not yet. */
  public synchronized List<SecretView> dynamicSecrets() {
    return dynamic.values().stream().map(SecretManager::view).toList();
  }

  private static SecretView view(DynamicSecret d) {
    return new SecretView(d.name(), d.source(), d.version(), d.lastUpdatedMillis(), d.current());
  }

  /** A secret as the admin shows it; {@code secret} is null while it warms. */
  public record SecretView(
      String name, String source, String version, long lastUpdatedMillis, Secret secret) {}

  public void close() {
    List<SecretSource> all;
    synchronized (this) {
      all = List.copyOf(sources.values());
      sources.clear();
    }
    all.forEach(SecretSource::close);
  }

  private static String source(ConfigSource c, String where) {
    if (c.hasAds()) {
      return ADS;
    }
    if (c.hasApiConfigSource()) {
      ApiConfigSource api = c.getApiConfigSource();
      if (api.getApiType() != ApiConfigSource.ApiType.GRPC) {
        throw new ConfigRejectedException(
            where
                + ": sds_config.api_config_source.api_type must be GRPC, got "
                + api.getApiType());
      }
      if (api.getGrpcServicesCount() != 1 || !api.getGrpcServices(0).hasEnvoyGrpc()) {
        throw new ConfigRejectedException(
            where
                + ": sds_config.api_config_source needs exactly one grpc_services entry with"
                + " envoy_grpc");
      }
      return GRPC + api.getGrpcServices(0).getEnvoyGrpc().getClusterName();
    }
    throw new ConfigRejectedException(
        where + ": sds_config must be ads or api_config_source (gRPC)");
  }

  /** Envoy's initial_fetch_timeout: 15 s unless set; 0 waits for ever (Istio sets 0s). */
  private static Duration initialFetchTimeout(ConfigSource c) {
    return ProtoDurations.orDefault(
        c.hasInitialFetchTimeout(), c.getInitialFetchTimeout(), Duration.ofSeconds(15));
  }

  private static String describe(String source) {
    return source.startsWith(GRPC) ? "cluster " + source.substring(GRPC.length()) : source;
  }
}
