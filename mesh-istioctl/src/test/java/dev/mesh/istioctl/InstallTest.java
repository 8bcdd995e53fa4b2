package dev.mesh.istioctl;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.api.MockApi;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** meshctl install and uninstall against fabric8's mock API server (CRUD), as against a cluster. */
@EnableKubernetesMockClient(crud = true)
class InstallTest {
  static KubernetesClient client;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  @BeforeEach
  void useMock() {
    MockApi.use(client.getMasterUrl().toString());
  }

  @AfterEach
  void forget() {
    MockApi.forget();
  }

  int run(String... args) {
    var cli = Meshctl.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  @Test
  void installCreatesEveryObjectOfMeshYamlAndUninstallRemovesThem() throws Exception {
    List<HasMetadata> expected = InstallCommand.objects(client, InstallCommand.manifest(null));
    assertThat(expected)
        .extracting(HasMetadata::getKind)
        .contains(
            "CustomResourceDefinition",
            "Namespace",
            "ClusterRole",
            "Deployment",
            "Service",
            "MutatingWebhookConfiguration",
            "ConfigMap",
            "ServiceAccount",
            "ClusterRoleBinding");

    assertThat(run("install", "--dry-run")).isZero();
    assertThat(out.toString()).contains("would apply Deployment mesh-system/mesh-pilot");
    assertThat(client.resource(expected.get(expected.size() - 1)).get()).isNull();

    assertThat(run("install", "--wait=false")).as(err.toString()).isZero();
    for (HasMetadata o : expected) {
      assertThat(client.resource(o).get()).as(InstallCommand.describe(o)).isNotNull();
    }
    assertThat(out.toString())
        .contains("created MutatingWebhookConfiguration mesh-sidecar-injector")
        .contains("installed: " + expected.size() + " objects");
    // Applying again updates, and still leaves one of each.
    assertThat(run("install", "--wait=false")).isZero();
    assertThat(out.toString()).contains("updated Deployment mesh-system/mesh-injector");

    assertThat(run("uninstall")).isZero();
    for (HasMetadata o : expected) {
      assertThat(client.resource(o).get()).as(InstallCommand.describe(o)).isNull();
    }
    assertThat(out.toString()).contains("uninstalled: " + expected.size() + " objects removed");
  }

  @Test
  void waitingForPodsThatNeverBecomeReadyEndsAtTheTimeoutWithAReason() {
    // The mock has no controllers: the deployments never get ready.
    assertThat(run("install", "--timeout", "2s")).isEqualTo(1);
    assertThat(err.toString()).contains("were not ready in 2s");
    assertThat(run("install", "--timeout", "soon")).isEqualTo(2);
    assertThat(err.toString()).contains("not a duration");
    assertThat(run("uninstall")).isZero();
  }
}
