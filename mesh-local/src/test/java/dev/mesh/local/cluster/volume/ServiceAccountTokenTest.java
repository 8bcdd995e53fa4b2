package dev.mesh.local.cluster.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mesh.local.Build;
import dev.mesh.local.cluster.ImageTable;
import dev.mesh.local.cluster.LocalCluster;
import dev.mesh.local.kube.KubeBinaries;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * On a real control plane: the kube-api-access volume the ServiceAccount admission adds to a pod
 * shows the container, at /var/run/secrets/kubernetes.io/serviceaccount, a token the API server
 * issued for the pod (TokenRequest, bound to it), its CA and namespace; the container calls the API
 * server with them and is its service account. The host sees no token there.
 */
class ServiceAccountTokenTest {
  private static final KubeBinaries KUBE = KubeBinaries.pinned();
  static final String SA = "/var/run/secrets/kubernetes.io/serviceaccount";
  static LocalCluster cluster;

  @BeforeAll
  static void start() {
    assumeTrue(KUBE.present(), KUBE.describeMissing());
    cluster =
        LocalCluster.start(
            "satoken",
            new ImageTable()
                .add("shell", new ImageTable.Image(Map.of(), List.of("bash"), Map.of())),
            LocalCluster.Api.KUBERNETES);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aPodCallsTheApiServerWithItsProjectedToken() throws Exception {
    String script =
        String.join(
            "\n",
            "SA=" + SA,
            "echo \"files=$(ls $SA | tr '\\n' ,)\"",
            "echo \"token-mode=$(stat -L -c %a:%u $SA/token)\"",
            "echo \"namespace=$(cat $SA/namespace)\"",
            "echo \"review=$(curl -sS --cacert $SA/ca.crt"
                + " -H \"Authorization: Bearer $(cat $SA/token)\""
                + " -H 'Content-Type: application/json' -X POST"
                + " -d '{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}'"
                + " https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"
                + "/apis/authentication.k8s.io/v1/selfsubjectreviews | tr -d '\\n ')\"",
            "echo checked",
            "exec sleep 600");
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("caller")
            .withNamespace("default")
            .endMetadata()
            .withNewSpec()
            .withTerminationGracePeriodSeconds(2L)
            // Every container as one user, no fsGroup: the token is that user's, 0600 (KEP-2451).
            .withNewSecurityContext()
            .withRunAsUser(1000L)
            .withRunAsGroup(1000L)
            .endSecurityContext()
            .addNewContainer()
            .withName("main")
            .withImage("shell")
            .withCommand("bash", "-c", script)
            .endContainer()
            .endSpec()
            .build();
    Pod stored = cluster.createPod(pod, 120);
    assertThat(stored.getSpec().getVolumes())
        .anySatisfy(v -> assertThat(v.getName()).startsWith("kube-api-access-"));
    assertThat(
            Build.eventually(
                () -> cluster.logOf("default", "caller", "main").contains("checked"),
                Duration.ofSeconds(60)))
        .as("log: %s", cluster.logOf("default", "caller", "main"))
        .isTrue();
    String log = cluster.logOf("default", "caller", "main");
    assertThat(log.lines())
        .contains("files=ca.crt,namespace,token,", "token-mode=600:1000", "namespace=default");
    String review = log.lines().filter(l -> l.startsWith("review=")).findFirst().orElseThrow();
    assertThat(review)
        .contains("\"username\":\"system:serviceaccount:default:default\"")
        .contains("\"authentication.kubernetes.io/pod-name\":[\"caller\"]")
        .contains(
            "\"authentication.kubernetes.io/pod-uid\":[\"" + stored.getMetadata().getUid() + "\"]");

    assertThat(Path.of(SA, "token")).as("the host sees no token").doesNotExist();
    assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(SA);

    cluster.deletePod("default", "caller");
    assertThat(Path.of(SA, "token")).doesNotExist();
  }
}
