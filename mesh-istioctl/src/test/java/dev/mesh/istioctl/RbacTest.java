package dev.mesh.istioctl;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.config.IstioResources;
import dev.mesh.local.api.ApiUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeSet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;

/**
 * install/mesh.yaml's RBAC grants pilot and the injector exactly what their tests were seen to ask
 * of the (mock) API server, no more and no less: the requests their Kubernetes clients made,
 * recorded by the server and written under each module's target/api-usage by those tests. What is
 * granted is the component's ClusterRole together with its Role in its own namespace (the mock
 * records no namespace, so the two are compared as one set).
 */
class RbacTest {
  @ParameterizedTest(name = "{0}")
  @CsvSource({"mesh-pilot, mesh-pilot", "mesh-injector, mesh-injector"})
  void theClusterRoleGrantsExactlyWhatWasUsed(String role, String module) throws Exception {
    Path usage = Path.of("..", module, "target", "api-usage");
    assertThat(usage)
        .as("%s's tests record what it asks of the API: build the reactor (./mvnw verify)", module)
        .isDirectory();
    TreeSet<ApiUsage.Permission> used = ApiUsage.read(usage);
    TreeSet<ApiUsage.Permission> granted = new TreeSet<>();
    for (JsonNode doc :
        IstioResources.readDocuments(Files.readString(Path.of("..", "install", "mesh.yaml")))) {
      String kind = doc.path("kind").asString("");
      if (!(kind.equals("ClusterRole") || kind.equals("Role"))
          || !doc.path("metadata").path("name").asString("").equals(role)) {
        continue;
      }
      for (JsonNode rule : doc.path("rules")) {
        for (JsonNode verb : rule.path("verbs")) {
          for (JsonNode url : rule.path("nonResourceURLs")) {
            granted.add(new ApiUsage.Permission(verb.asString(), "", url.asString()));
          }
          for (JsonNode group : rule.path("apiGroups")) {
            for (JsonNode resource : rule.path("resources")) {
              granted.add(
                  new ApiUsage.Permission(verb.asString(), group.asString(), resource.asString()));
            }
          }
        }
      }
    }
    assertThat(granted).as("ClusterRole and Role %s in install/mesh.yaml", role).isEqualTo(used);
  }
}
