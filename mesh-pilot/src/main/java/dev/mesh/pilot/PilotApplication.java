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
 * on 15017.
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

  @Bean(initMethod = "start", destroyMethod = "close")
  XdsServer xdsServer(
      Registry registry, Problems problems, @Value("${mesh.domain:cluster.local}") String domain) {
    return new XdsServer(registry, domain, problems);
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
}
