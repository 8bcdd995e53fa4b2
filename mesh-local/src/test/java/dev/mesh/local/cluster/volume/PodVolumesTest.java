package dev.mesh.local.cluster.volume;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.Build;
import dev.mesh.local.cluster.ImageTable;
import dev.mesh.local.cluster.LocalCluster;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A pod's volumes on the local cluster (embedded API), seen from inside its containers as a user
 * sees them: an emptyDir two containers share, configMap, secret, downwardAPI and projected volumes
 * with their modes and owners for a non-root user, read-only where Kubernetes makes them so,
 * updated when the ConfigMap changes; and from the host: no mount, and after the pod no mount point
 * left.
 */
class PodVolumesTest {
  static LocalCluster cluster;

  /** The mount points' root: not on the host before the pod, so every one is made for it. */
  static final String M = "/srv/mesh-volumes-test-" + ProcessHandle.current().pid();

  @BeforeAll
  static void start() {
    System.setProperty(PodVolumes.RESYNC_PROPERTY, "1");
    cluster =
        LocalCluster.start(
            "volumes",
            new ImageTable()
                .add("shell", new ImageTable.Image(Map.of(), List.of("bash"), Map.of())));
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
    System.clearProperty(PodVolumes.RESYNC_PROPERTY);
  }

  static io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus review(
      String token, String... audiences) {
    return cluster
        .client()
        .authentication()
        .v1()
        .tokenReviews()
        .create(
            new io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder()
                .withNewSpec()
                .withToken(token)
                .withAudiences(audiences)
                .endSpec()
                .build())
        .getStatus();
  }

  static String mountinfo() throws Exception {
    return Files.readString(Path.of("/proc/self/mountinfo"));
  }

  @Test
  void containersSeeTheirVolumesAndTheHostSeesNoMountOfThem() throws Exception {
    assertThat(Path.of(M)).doesNotExist();
    cluster.apply(
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName("app-config")
            .withNamespace("default")
            .endMetadata()
            .addToData("greeting", "hello")
            .addToData("ca.crt", "not really a CA")
            .build());
    cluster.apply(
        new SecretBuilder()
            .withNewMetadata()
            .withName("creds")
            .withNamespace("default")
            .endMetadata()
            .addToData(
                "password",
                Base64.getEncoder().encodeToString("s3cret".getBytes(StandardCharsets.UTF_8)))
            .build());
    String reader =
        String.join(
            "\n",
            "until [ -s $M/shared/hello ]; do sleep 0.2; done",
            "echo \"hello=$(cat $M/shared/hello)\"",
            "echo \"greeting=$(cat $M/config/greeting)\"",
            "echo \"subpath=$(cat $M/greeting.txt)\"",
            "echo \"config-mode=$(stat -L -c %a:%u:%g $M/config/greeting)\"",
            "echo \"name=$(cat $M/podinfo/name)\"",
            "echo \"uid=$(cat $M/podinfo/uid)\"",
            "echo \"labels=$(tr '\\n' , < $M/podinfo/labels)\"",
            "echo \"cpu=$(cat $M/podinfo/cpu)\"",
            "echo \"password=$(cat $M/creds/password)\"",
            "echo \"creds-mode=$(stat -L -c %a:%g $M/creds/password)\"",
            "echo \"ns=$(cat $M/serviceaccount/namespace)\"",
            "echo \"token-mode=$(stat -L -c %a:%u:%g $M/serviceaccount/token)\"",
            "echo \"istio-token-mode=$(stat -L -c %a:%u:%g $M/tokens/istio-token)\"",
            "if head -c 3 $M/tokens/istio-token >/dev/null; then echo token-read=yes; fi",
            "if touch $M/config/new 2>/dev/null; then echo config-ro=no; else echo config-ro=yes; fi",
            "echo \"id=$(id -u):$(id -G | tr ' ' ,)\"",
            "echo checked",
            "while :; do echo \"greeting-now=$(cat $M/config/greeting)\"; sleep 1; done");
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("vols")
            .withNamespace("default")
            .addToLabels("app", "vols")
            .addToLabels("tier", "test")
            .endMetadata()
            .withNewSpec()
            .withTerminationGracePeriodSeconds(2L)
            .withNewSecurityContext()
            .withRunAsUser(1000L)
            .withRunAsGroup(1000L)
            .withFsGroup(2000L)
            .endSecurityContext()
            .addNewVolume()
            .withName("shared")
            .withNewEmptyDir()
            .endEmptyDir()
            .endVolume()
            .addNewVolume()
            .withName("config")
            .withNewConfigMap()
            .withName("app-config")
            .endConfigMap()
            .endVolume()
            .addNewVolume()
            .withName("creds")
            .withNewSecret()
            .withSecretName("creds")
            .withDefaultMode(0400)
            .endSecret()
            .endVolume()
            .addNewVolume()
            .withName("podinfo")
            .withNewDownwardAPI()
            .addNewItem()
            .withPath("name")
            .withNewFieldRef()
            .withFieldPath("metadata.name")
            .endFieldRef()
            .endItem()
            .addNewItem()
            .withPath("uid")
            .withNewFieldRef()
            .withFieldPath("metadata.uid")
            .endFieldRef()
            .endItem()
            .addNewItem()
            .withPath("labels")
            .withNewFieldRef()
            .withFieldPath("metadata.labels")
            .endFieldRef()
            .endItem()
            .addNewItem()
            .withPath("cpu")
            .withNewResourceFieldRef()
            .withContainerName("reader")
            .withResource("limits.cpu")
            .withDivisor(new Quantity("1m"))
            .endResourceFieldRef()
            .endItem()
            .endDownwardAPI()
            .endVolume()
            // The shape of the kube-api-access volume the ServiceAccount admission adds.
            .addNewVolume()
            .withName("kube-api-access-test")
            .withNewProjected()
            .withDefaultMode(0644)
            .addNewSource()
            .withNewServiceAccountToken()
            .withPath("token")
            .withExpirationSeconds(3607L)
            .endServiceAccountToken()
            .endSource()
            .addNewSource()
            .withNewConfigMap()
            .withName("app-config")
            .addNewItem()
            .withKey("ca.crt")
            .withPath("ca.crt")
            .endItem()
            .endConfigMap()
            .endSource()
            .addNewSource()
            .withNewDownwardAPI()
            .addNewItem()
            .withPath("namespace")
            .withNewFieldRef()
            .withFieldPath("metadata.namespace")
            .endFieldRef()
            .endItem()
            .endDownwardAPI()
            .endSource()
            .endProjected()
            .endVolume()
            // The sidecar's token for pilot's CA, as the injection template projects it.
            .addNewVolume()
            .withName("istio-token")
            .withNewProjected()
            .addNewSource()
            .withNewServiceAccountToken()
            .withAudience("istio-ca")
            .withExpirationSeconds(43200L)
            .withPath("istio-token")
            .endServiceAccountToken()
            .endSource()
            .endProjected()
            .endVolume()
            .addNewContainer()
            .withName("writer")
            .withImage("shell")
            .withCommand("bash", "-c", "echo from-writer > " + M + "/data/hello; exec sleep 600")
            .addNewVolumeMount()
            .withName("shared")
            .withMountPath(M + "/data")
            .endVolumeMount()
            .endContainer()
            .addNewContainer()
            .withName("reader")
            .withImage("shell")
            .withCommand("bash", "-c", "M=" + M + "\n" + reader)
            .withNewSecurityContext()
            .withRunAsUser(1001L)
            .endSecurityContext()
            .withNewResources()
            .addToLimits("cpu", new Quantity("500m"))
            .endResources()
            .addNewVolumeMount()
            .withName("shared")
            .withMountPath(M + "/shared")
            .endVolumeMount()
            .addNewVolumeMount()
            .withName("config")
            .withMountPath(M + "/config")
            .endVolumeMount()
            .addNewVolumeMount()
            .withName("config")
            .withMountPath(M + "/greeting.txt")
            .withSubPath("greeting")
            .endVolumeMount()
            .addNewVolumeMount()
            .withName("creds")
            .withMountPath(M + "/creds")
            .withReadOnly(true)
            .endVolumeMount()
            .addNewVolumeMount()
            .withName("podinfo")
            .withMountPath(M + "/podinfo")
            .endVolumeMount()
            .addNewVolumeMount()
            .withName("kube-api-access-test")
            .withMountPath(M + "/serviceaccount")
            .withReadOnly(true)
            .endVolumeMount()
            .addNewVolumeMount()
            .withName("istio-token")
            .withMountPath(M + "/tokens")
            .withReadOnly(true)
            .endVolumeMount()
            // An exec probe runs where the container runs: it sees the mounts too.
            .withNewReadinessProbe()
            .withNewExec()
            .withCommand("cat", M + "/config/greeting")
            .endExec()
            .withPeriodSeconds(1)
            .endReadinessProbe()
            .endContainer()
            .endSpec()
            .build();
    Pod stored = cluster.createPod(pod, 60);
    assertThat(
            Build.eventually(
                () -> cluster.logOf("default", "vols", "reader").contains("checked"),
                Duration.ofSeconds(30)))
        .as("reader's log: %s", cluster.logOf("default", "vols", "reader"))
        .isTrue();
    String seen = cluster.logOf("default", "vols", "reader");
    String uid = stored.getMetadata().getUid() == null ? "" : stored.getMetadata().getUid();
    assertThat(seen.lines())
        .contains(
            "hello=from-writer",
            "greeting=hello",
            "subpath=hello",
            // Root's file, given to the fsGroup (configMap volumes are read-only: read, no write).
            "config-mode=644:0:2000",
            "name=vols",
            "uid=" + uid,
            "labels=app=\"vols\",tier=\"test\"", // no newline at the end, as Kubernetes writes it
            "cpu=500",
            "password=s3cret",
            "creds-mode=440:2000",
            "ns=default",
            // The embedded API's tokens: root's, 0600, given to the fsGroup (KEP-2451, as the
            // containers do not share one runAsUser), readable by the container through it.
            "token-mode=640:0:2000",
            "istio-token-mode=640:0:2000",
            "token-read=yes",
            "config-ro=yes",
            "id=1001:1000,2000");

    // The host sees empty mount points and no mount; nor does a process of the pod's network
    // namespace that is not in the container.
    assertThat(Path.of(M, "config")).isEmptyDirectory();
    assertThat(Path.of(M, "greeting.txt")).isEmptyFile();
    assertThat(mountinfo()).doesNotContain(M);
    assertThat(
            cluster.namespaceOf("default", "vols").exec("cat", M + "/config/greeting").exitCode())
        .isNotZero();

    // The tokens are the embedded API's, bound to the pod: a TokenReview vouches for them as it
    // would on a real API server, each for its own audience.
    Path volumes = cluster.state().resolve("pods/default_vols/volumes/kubernetes.io~projected");
    String apiToken = Files.readString(volumes.resolve("kube-api-access-test/token"));
    String istioToken = Files.readString(volumes.resolve("istio-token/istio-token"));
    var api = review(apiToken);
    assertThat(api.getAuthenticated()).as("error: %s", api.getError()).isTrue();
    assertThat(api.getUser().getUsername()).isEqualTo("system:serviceaccount:default:default");
    assertThat(api.getUser().getExtra())
        .containsEntry("authentication.kubernetes.io/pod-name", List.of("vols"))
        .containsEntry("authentication.kubernetes.io/pod-uid", List.of(uid));
    var istio = review(istioToken, "istio-ca");
    assertThat(istio.getAuthenticated()).as("error: %s", istio.getError()).isTrue();
    assertThat(istio.getAudiences()).containsExactly("istio-ca");
    assertThat(review(istioToken).getAuthenticated()).isNotEqualTo(Boolean.TRUE);

    // An update of the ConfigMap reaches the container through the ..data swap.
    cluster.apply(
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName("app-config")
            .withNamespace("default")
            .endMetadata()
            .addToData("greeting", "hello again")
            .addToData("ca.crt", "not really a CA")
            .build());
    assertThat(
            Build.eventually(
                () ->
                    cluster
                        .logOf("default", "vols", "reader")
                        .lines()
                        .anyMatch(l -> l.equals("greeting-now=hello again")),
                Duration.ofSeconds(30)))
        .as("the update seen in the container")
        .isTrue();

    cluster.deletePod("default", "vols");
    assertThat(review(istioToken, "istio-ca").getError())
        .as("the deleted pod's token")
        .isEqualTo("[invalid bearer token, service account token has been invalidated]");
    assertThat(Path.of(M)).as("every mount point made for the pod is gone").doesNotExist();
    assertThat(mountinfo()).doesNotContain(M);
    Path created = MountPoints.REGISTRY.resolve("created");
    if (Files.exists(created)) {
      assertThat(Files.readString(created)).doesNotContain(M);
    }
  }

  @Test
  void aTokenOfAServiceAccountThatDoesNotExistFailsThePodNamingIt() {
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("no-account")
            .withNamespace("default")
            .endMetadata()
            .withNewSpec()
            .withServiceAccountName("nobody")
            .withTerminationGracePeriodSeconds(1L)
            .addNewVolume()
            .withName("istio-token")
            .withNewProjected()
            .addNewSource()
            .withNewServiceAccountToken()
            .withAudience("istio-ca")
            .withPath("istio-token")
            .endServiceAccountToken()
            .endSource()
            .endProjected()
            .endVolume()
            .addNewContainer()
            .withName("main")
            .withImage("shell")
            .withCommand("sleep", "600")
            .endContainer()
            .endSpec()
            .build();
    try {
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> cluster.createPod(pod, 30))
          .hasMessageContaining("serviceaccounts \"nobody\" not found");
    } finally {
      cluster.deletePod("default", "no-account");
    }
  }
}
