package dev.mesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.mesh.LocalMesh;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.SidecarStats;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The mesh end to end on the local cluster: pods created through the API in a namespace labelled
 * istio-injection=enabled are injected by the webhook, run their init container's capture rules,
 * their agent and proxy, get their config from pilot (which watches the cluster's API), and an
 * app's call to a service goes through both sidecars.
 */
class InjectedPodsTest {
  static LocalMesh mesh;

  @BeforeAll
  static void install() throws Exception {
    mesh = new LocalMesh("e2e", java.nio.file.Path.of(".."));
    mesh.cluster.apply(
        new NamespaceBuilder()
            .withNewMetadata()
            .withName("demo")
            .addToLabels("istio-injection", "enabled")
            .endMetadata()
            .build());
    mesh.cluster.apply(
        new ServiceBuilder()
            .withNewMetadata()
            .withName("b")
            .withNamespace("demo")
            .endMetadata()
            .withNewSpec()
            .addToSelector("app", "b")
            .addNewPort()
            .withName("http")
            .withPort(80)
            .withNewTargetPort(8080)
            .endPort()
            .endSpec()
            .build());
    mesh.cluster.createPod(echo("b-1", "b", 8080), 120);
    mesh.cluster.createPod(echo("a-1", "a", 9000), 120);
  }

  @AfterAll
  static void uninstall() {
    if (mesh != null) {
      mesh.close();
    }
  }

  static Pod echo(String name, String app, int port) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("demo")
        .addToLabels("app", app)
        .addToLabels("version", "v1")
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(LocalMesh.ECHO_IMAGE)
        .withArgs("0.0.0.0:" + port)
        .addNewPort()
        .withName("http")
        .withContainerPort(port)
        .endPort()
        .endContainer()
        .endSpec()
        .build();
  }

  @Test
  void injectedPodsTalkThroughBothSidecars() {
    Pod stored = mesh.cluster.client().pods().inNamespace("demo").withName("b-1").get();
    assertThat(stored.getSpec().getInitContainers())
        .extracting(Container::getName)
        .containsExactly("istio-init");
    assertThat(stored.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("app", "istio-proxy");
    assertThat(stored.getMetadata().getAnnotations()).containsKey("sidecar.istio.io/status");

    NetworkNamespace a = mesh.cluster.namespaceOf("demo", "a-1");
    NetworkNamespace b = mesh.cluster.namespaceOf("demo", "b-1");
    String answer =
        NamespaceHttp.request(
                a, 1000, "b.demo.svc.cluster.local", 80, "GET /hello", "b.demo.svc.cluster.local")
            .stdout();
    assertThat(answer)
        .as("pilot log:\n%s", mesh.log("pilot.log"))
        .contains("echo 0.0.0.0:8080 /hello");
    assertThat(SidecarStats.accepted(a, 15001) + SidecarStats.accepted(a, 80))
        .as("a's virtualOutbound")
        .isPositive();
    assertThat(SidecarStats.accepted(b, 15006)).as("b's virtualInbound").isPositive();
  }
}
