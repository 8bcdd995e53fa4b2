package dev.mesh.pilot.security;

import dev.mesh.config.IstioResources;
import dev.mesh.config.mesh.MeshConfig;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * Where pilot's MeshConfig comes from: the {@code mesh} key of ConfigMap {@code mesh} in its own
 * namespace (as istiod's), or a file ({@code --mesh-config}, as istiod's {@code --meshConfig});
 * Istio's defaults where there is none. Read once at start.
 */
public final class MeshConfigSource {
  private static final Logger LOG = Logger.getLogger(MeshConfigSource.class.getName());

  private MeshConfigSource() {}

  public static MeshConfig fromCluster(KubernetesClient client, String namespace) {
    ConfigMap cm = client.configMaps().inNamespace(namespace).withName("mesh").get();
    String yaml = cm == null || cm.getData() == null ? null : cm.getData().get("mesh");
    if (yaml == null || yaml.isBlank()) {
      LOG.info("no MeshConfig in ConfigMap " + namespace + "/mesh: Istio's defaults");
      return MeshConfig.defaults();
    }
    LOG.info("MeshConfig from ConfigMap " + namespace + "/mesh");
    return IstioResources.readValue(yaml, MeshConfig.class, "ConfigMap " + namespace + "/mesh");
  }

  public static MeshConfig fromFile(Path file) {
    try {
      String yaml = Files.readString(file);
      LOG.info("MeshConfig from " + file);
      return yaml.isBlank()
          ? MeshConfig.defaults()
          : IstioResources.readValue(yaml, MeshConfig.class, file.toString());
    } catch (IOException e) {
      throw new IllegalArgumentException("--mesh-config=" + file + ": " + e.getMessage(), e);
    }
  }
}
