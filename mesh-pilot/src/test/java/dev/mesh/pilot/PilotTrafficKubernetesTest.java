package dev.mesh.pilot;

import dev.mesh.config.IstioResources;
import dev.mesh.local.api.MockApi;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The same traffic scenarios with pilot's Kubernetes registry: the mesh is created, changed and
 * deleted through fabric8's mock API server (CRUD mode), which pilot watches with informers
 * configured as for a real cluster.
 */
@EnableKubernetesMockClient(crud = true)
class PilotTrafficKubernetesTest extends TrafficScenarios {
  static KubernetesClient client;
  static io.fabric8.kubernetes.client.server.mock.KubernetesMockServer server;

  /** Objects in the API, grouped under the name the scenarios give them. */
  record KubeStore(KubernetesClient client, Map<String, List<HasMetadata>> byName)
      implements MeshStore {
    @Override
    public void put(String name, String yaml) {
      List<HasMetadata> now = new ArrayList<>();
      for (var doc : IstioResources.readDocuments(yaml)) {
        HasMetadata r =
            IstioResources.kindOf(doc).isPresent()
                ? IstioResources.fromTree(doc)
                : client.getKubernetesSerialization().unmarshal(doc.toString());
        client.resource(r).createOr(op -> op.update());
        now.add(r);
      }
      for (HasMetadata old : byName.getOrDefault(name, List.of())) {
        boolean kept =
            now.stream()
                .anyMatch(
                    r ->
                        r.getKind().equals(old.getKind())
                            && r.getMetadata().getName().equals(old.getMetadata().getName()));
        if (!kept) {
          client.resource(old).delete();
        }
      }
      byName.put(name, now);
    }

    @Override
    public void delete(String name) {
      for (HasMetadata r : byName.getOrDefault(name, List.of())) {
        client.resource(r).delete();
      }
      byName.remove(name);
    }

    @Override
    public List<String> pilotArgs() {
      return List.of();
    }
  }

  @BeforeAll
  static void start() throws Exception {
    configDir = Files.createDirectories(dir.resolve("config"));
    store = new KubeStore(client, new HashMap<>());
    MockApi.use(client.getMasterUrl().toString());
    setUp();
  }

  @AfterAll
  static void stop() {
    tearDown();
    MockApi.forget();
    dev.mesh.local.api.ApiUsage.record(server, PilotTrafficKubernetesTest.class);
  }
}
