package dev.mesh.pilot;

import dev.mesh.pilot.registry.FileRegistry;
import dev.mesh.pilot.registry.KubernetesRegistry;
import dev.mesh.pilot.registry.Registry;
import dev.mesh.pilot.xds.Problems;
import dev.mesh.pilot.xds.XdsServer;
import io.grpc.BindableService;
import java.nio.file.Files;
import java.nio.file.Path;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

/**
 * mesh-pilot: {@code java -jar mesh-pilot.jar [--config-dir=DIR]}. With a config directory it
 * serves the YAML in it (no cluster needed); without, the cluster of the current kubeconfig or of
 * its in-cluster service account. ADS on 15010, debug and metrics on 15014, the validating webhook
 * on 15017, and in a cluster the CA and ADS over TLS on 15012 ({@link #pilotCa}).
 */
@SpringBootApplication
public class PilotApplication {
  public static void main(String[] args) {
    boolean fileMode = java.util.Arrays.stream(args).anyMatch(a -> a.startsWith("--config-dir="));
    if (!fileMode) {
      // Say plainly, before anything starts, when there is no cluster to watch.
      try (var client = new io.fabric8.kubernetes.client.KubernetesClientBuilder().build()) {
        KubernetesRegistry.requireReachable(client);
      } catch (IllegalStateException e) {
        System.err.println("mesh-pilot: " + e.getMessage());
        System.exit(1);
      }
    }
    SpringApplication.run(PilotApplication.class, args);
  }

  @Bean(destroyMethod = "")
  Registry registry(@Value("${config-dir:}") String configDir) {
    if (!configDir.isEmpty()) {
      Path dir = Path.of(configDir);
      if (!Files.isDirectory(dir)) {
        throw new IllegalArgumentException("--config-dir=" + configDir + " is not a directory");
      }
      return new FileRegistry(dir);
    }
    return new KubernetesRegistry();
  }

  @Bean
  Problems problems() {
    return new Problems();
  }

  /**
   * MeshConfig's security settings: from {@code --mesh-config=FILE}, else in Kubernetes mode
   * ConfigMap {@code mesh} in pilot's namespace; {@code --mesh.trust-domain} overrides its trust
   * domain. {@code --mesh.mtls.enabled}: {@code true}, {@code false} (TLS kept out of what proxies
   * are sent, for proxies that cannot fetch SDS secrets: a listener naming one would warm until its
   * secret came), or {@code auto} (the default): on where pilot is the mesh's CA, so that the
   * sidecars have certificates to fetch; off in the local mesh on the embedded API, where they have
   * none.
   */
  @Bean
  dev.mesh.config.mesh.MeshConfig meshConfig(
      Registry registry,
      @Value("${mesh-config:}") String file,
      @Value("${mesh.ca.namespace:${POD_NAMESPACE:mesh-system}}") String namespace) {
    return !file.isEmpty()
        ? dev.mesh.pilot.security.MeshConfigSource.fromFile(Path.of(file))
        : registry instanceof KubernetesRegistry k
            ? dev.mesh.pilot.security.MeshConfigSource.fromCluster(k.client(), namespace)
            : dev.mesh.config.mesh.MeshConfig.defaults();
  }

  @Bean
  dev.mesh.pilot.security.SecuritySettings securitySettings(
      Registry registry,
      dev.mesh.config.mesh.MeshConfig mesh,
      @Value("${mesh.trust-domain:}") String trustDomain,
      @Value("${mesh.mtls.enabled:auto}") String mtlsEnabled,
      @Value("${mesh.ca.enabled:auto}") String caEnabled,
      @Value("${xds-uds:}") String uds) {
    boolean mtls =
        switch (mtlsEnabled) {
          case "true" -> true;
          case "false" -> false;
          case "auto" -> caWanted(caEnabled, registry, uds);
          default ->
              throw new IllegalArgumentException(
                  "--mesh.mtls.enabled=" + mtlsEnabled + ": use true, false or auto");
        };
    var settings = dev.mesh.pilot.security.SecuritySettings.of(mesh, mtls);
    // The flag overrides MeshConfig's trust domain here only: the MeshConfig bean stays as read.
    return trustDomain.isEmpty()
        ? settings
        : new dev.mesh.pilot.security.SecuritySettings(
            trustDomain, settings.rootNamespace(), settings.autoMtls(), settings.mtls());
  }

  @Bean(initMethod = "start", destroyMethod = "close")
  XdsServer xdsServer(
      Registry registry,
      Problems problems,
      dev.mesh.pilot.security.SecuritySettings security,
      dev.mesh.config.mesh.MeshConfig mesh,
      @Value("${mesh.domain:cluster.local}") String domain) {
    return new XdsServer(
        registry, domain, problems, security, dev.mesh.pilot.telemetry.AccessLogs.of(mesh));
  }

  @Bean
  BindableService aggregatedDiscoveryService(XdsServer xds) {
    return xds.ads();
  }

  /**
   * The validating webhook on {@code --validation-port} (15017, as istiod; 0 for any free port, -1
   * for none), its CA patched into the cluster's ValidatingWebhookConfiguration when pilot watches
   * one.
   */
  @Bean(destroyMethod = "close")
  dev.mesh.pilot.validation.ValidationServer validationServer(
      Registry registry,
      @Value("${validation-port:15017}") int port,
      @Value("${validation-tls-dir:}") String tlsDir)
      throws java.io.IOException {
    var server = dev.mesh.pilot.validation.ValidationServer.start(port, tlsDir);
    if (server != null && registry instanceof KubernetesRegistry k) {
      server.patchInto(k.client());
    }
    return server;
  }

  /** ADS on a Unix socket too, when {@code --xds-uds=PATH} is given (the local mesh's way). */
  @Bean(destroyMethod = "close")
  dev.mesh.pilot.xds.UnixSocketAds unixSocketAds(XdsServer xds, @Value("${xds-uds:}") String path)
      throws java.io.IOException {
    return new dev.mesh.pilot.xds.UnixSocketAds(path.isEmpty() ? null : Path.of(path), xds);
  }

  /** Whether pilot runs the CA: {@code --mesh.ca.enabled} true, false, or auto (see below). */
  static boolean caWanted(String enabled, Registry registry, String uds) {
    return switch (enabled) {
      case "true" -> true;
      case "false" -> false;
      case "auto" ->
          registry instanceof KubernetesRegistry
              && System.getenv("KUBERNETES_SERVICE_HOST") != null
              && uds.isEmpty();
      default ->
          throw new IllegalArgumentException(
              "--mesh.ca.enabled=" + enabled + ": use true, false or auto");
    };
  }

  /**
   * The CA (Istio's CreateCertificate) and ADS over TLS on {@code --mesh.ca.port} (15012; 0 for any
   * free port). {@code --mesh.ca.enabled}: {@code true}, {@code false}, or {@code auto} (the
   * default): on when pilot watches Kubernetes from inside a cluster (KUBERNETES_SERVICE_HOST set)
   * and serves no Unix socket, so the local mesh, whose pods reach pilot through its socket, and
   * tests of pilot on a laptop are left as they were. Its namespace is {@code --mesh.ca.namespace}
   * (POD_NAMESPACE, else mesh-system); the trust domain {@code --mesh.trust-domain}, else
   * MeshConfig's (ConfigMap {@code mesh} there), else cluster.local; pilot's certificate has
   * istiod's names and those of CA_ADDR, ISTIOD_CUSTOM_HOST and {@code --mesh.ca.dns-names} (comma
   * separated).
   */
  @Bean(destroyMethod = "close")
  AutoCloseable pilotCa(
      Registry registry,
      XdsServer xds,
      @Value("${mesh.ca.enabled:auto}") String enabled,
      @Value("${xds-uds:}") String uds,
      @Value("${mesh.ca.port:15012}") int port,
      @Value("${mesh.ca.host:0.0.0.0}") String host,
      @Value("${mesh.ca.namespace:${POD_NAMESPACE:mesh-system}}") String namespace,
      dev.mesh.pilot.security.SecuritySettings security,
      @Value("${mesh.ca.dns-names:}") String dnsNames,
      @Value("${CA_ADDR:}") String caAddr,
      @Value("${ISTIOD_CUSTOM_HOST:}") String customHost)
      throws java.io.IOException {
    if (!caWanted(enabled, registry, uds)) {
      return () -> {};
    }
    if (!(registry instanceof KubernetesRegistry k)) {
      throw new IllegalArgumentException(
          "--mesh.ca.enabled=true needs a Kubernetes API (the CA keeps its root in a Secret and"
              + " checks tokens with TokenReview); pilot was given --config-dir");
    }
    return dev.mesh.pilot.ca.PilotCa.start(
        k.client(),
        new dev.mesh.pilot.ca.PilotCa.Settings(
            namespace,
            security.trustDomain(),
            port,
            host,
            dev.mesh.pilot.ca.PilotCa.names(caAddr, customHost, dnsNames)),
        xds.ads());
  }
}
