package dev.mesh.local.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mesh.local.Build;
import dev.mesh.local.kube.KubeBinaries;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The local cluster as the node of a real control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler), seen as a user sees it with kubectl: the node Ready, a
 * Deployment's pods made by its controllers, placed by the scheduler and run here, reached through
 * their Service's cluster IP, a Job completed, a deleted pod replaced.
 */
class KubernetesNodeTest {
  private static final KubeBinaries KUBE = KubeBinaries.pinned();
  static LocalCluster cluster;

  @BeforeAll
  static void start() {
    assumeTrue(KUBE.present(), KUBE.describeMissing());
    cluster =
        LocalCluster.start(
            "knode",
            new ImageTable()
                .add("shell", new ImageTable.Image(Map.of(), List.of("bash"), Map.of()))
                .add(
                    "echo",
                    new ImageTable.Image(
                        Map.of(),
                        List.of(
                            "java",
                            "-XX:TieredStopAtLevel=1",
                            "-Xmx32m",
                            "-cp",
                            NetworkNamespace.classPath(),
                            dev.mesh.local.apps.EchoServer.class.getName()),
                        Map.of())),
            LocalCluster.Api.KUBERNETES);
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static String kubectl(String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                KUBE.binary("kubectl").toString(),
                "--kubeconfig=" + cluster.kubeconfig(),
                "--cache-dir=" + cluster.state().resolve("kubectl-cache")));
    cmd.addAll(List.of(args));
    return Host.run(cmd, null).orThrow("kubectl " + String.join(" ", args)).stdout().strip();
  }

  @Test
  void aDeploymentsPodsRunHereAndServeThroughTheirService() throws Exception {
    assertThat(
            kubectl(
                "get",
                "node",
                LocalCluster.NODE,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"))
        .isEqualTo("True");
    cluster.apply(
        new DeploymentBuilder()
            .withNewMetadata()
            .withName("echo")
            .withNamespace("default")
            .endMetadata()
            .withNewSpec()
            .withReplicas(2)
            .withNewSelector()
            .addToMatchLabels("app", "echo")
            .endSelector()
            .withNewTemplate()
            .withNewMetadata()
            .addToLabels("app", "echo")
            .endMetadata()
            .withNewSpec()
            .withTerminationGracePeriodSeconds(5L)
            .addNewContainer()
            .withName("echo")
            .withImage("echo")
            .withArgs("0.0.0.0:8080")
            .addNewPort()
            .withContainerPort(8080)
            .endPort()
            .withNewReadinessProbe()
            .withNewTcpSocket()
            .withPort(new IntOrString(8080))
            .endTcpSocket()
            .withPeriodSeconds(1)
            .endReadinessProbe()
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build());
    cluster.apply(
        new ServiceBuilder()
            .withNewMetadata()
            .withName("echo")
            .withNamespace("default")
            .endMetadata()
            .withNewSpec()
            .addToSelector("app", "echo")
            .addNewPort()
            .withName("http")
            .withPort(80)
            .withTargetPort(new IntOrString(8080))
            .endPort()
            .endSpec()
            .build());
    assertThat(
            Build.eventually(
                () ->
                    kubectl("get", "deployment", "echo", "-o", "jsonpath={.status.readyReplicas}")
                        .equals("2"),
                Duration.ofSeconds(120)))
        .as("two ready replicas; pods: %s", kubectl("get", "pods", "-o", "wide"))
        .isTrue();
    List<Pod> echoes =
        cluster.client().pods().inNamespace("default").withLabel("app", "echo").list().getItems();
    assertThat(echoes)
        .allSatisfy(p -> assertThat(p.getSpec().getNodeName()).isEqualTo(LocalCluster.NODE));

    // A client pod reaches the Service by name, through the hub's DNAT to both endpoints.
    Pod client = cluster.createPod(KubeletTest.shell("client", "exec sleep 600").build(), 60);
    NetworkNamespace ns = cluster.namespaceOf("default", client.getMetadata().getName());
    assertThat(
            NamespaceHttp.awaitAnswer(
                ns, "echo.default.svc.cluster.local", 80, "GET /x", "echo 0.0.0.0:8080 /x", 60))
        .as("the Service answers from the client pod")
        .isTrue();

    // A pod deleted is stopped, removed, and replaced by its ReplicaSet.
    String victim = echoes.get(0).getMetadata().getName();
    cluster.deletePod("default", victim);
    assertThat(
            Build.eventually(
                () ->
                    cluster
                            .client()
                            .pods()
                            .inNamespace("default")
                            .withLabel("app", "echo")
                            .list()
                            .getItems()
                            .stream()
                            .filter(p -> !p.getMetadata().getName().equals(victim))
                            .filter(
                                p ->
                                    p.getStatus().getConditions().stream()
                                        .anyMatch(
                                            c ->
                                                c.getType().equals("Ready")
                                                    && c.getStatus().equals("True")))
                            .count()
                        == 2,
                Duration.ofSeconds(90)))
        .as("the ReplicaSet replaced the deleted pod; pods: %s", kubectl("get", "pods"))
        .isTrue();
  }

  /**
   * What the API server proxies to the kubelet, through the kubectl users have: a container's log,
   * a command run in it (its output and exit code), and a local port forwarded to the pod's.
   */
  @Test
  void kubectlLogsExecAndPortForwardReachThePodThroughTheKubeletsApi() throws Exception {
    cluster.createPod(
        KubeletTest.shell(
                "talker",
                "echo hello from the pod; exec java -XX:TieredStopAtLevel=1 -Xmx32m -cp "
                    + NetworkNamespace.classPath()
                    + " "
                    + dev.mesh.local.apps.EchoServer.class.getName()
                    + " 0.0.0.0:8080")
            .build(),
        60);
    assertThat(kubectl("logs", "talker")).contains("hello from the pod");

    var exec =
        Host.run(
            List.of(
                KUBE.binary("kubectl").toString(),
                "--kubeconfig=" + cluster.kubeconfig(),
                "exec",
                "talker",
                "--",
                "bash",
                "-c",
                "echo inside $(id -u); exit 3"),
            null);
    assertThat(exec.exitCode()).as(exec.stderr()).isEqualTo(3);
    assertThat(exec.stdout()).contains("inside 0");

    Process forward =
        new ProcessBuilder(
                KUBE.binary("kubectl").toString(),
                "--kubeconfig=" + cluster.kubeconfig(),
                "port-forward",
                "pod/talker",
                "0:8080")
            .redirectErrorStream(true)
            .start();
    try {
      var out = new java.io.BufferedReader(new java.io.InputStreamReader(forward.getInputStream()));
      String line = out.readLine();
      assertThat(line).as("kubectl port-forward's first line").startsWith("Forwarding from");
      int port = Integer.parseInt(line.replaceAll(".*127\\.0\\.0\\.1:(\\d+) .*", "$1"));
      try (var s = new java.net.Socket("127.0.0.1", port)) {
        s.getOutputStream()
            .write(
                "GET /forwarded HTTP/1.0\r\nHost: x\r\n\r\n"
                    .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        // The echo server keeps the connection open: read until its answer, bounded by a timeout.
        s.setSoTimeout(30_000);
        StringBuilder answer = new StringBuilder();
        byte[] buf = new byte[4096];
        for (int n;
            !answer.toString().contains("/forwarded") && (n = s.getInputStream().read(buf)) > 0; ) {
          answer.append(new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII));
        }
        assertThat(answer.toString()).contains("echo 0.0.0.0:8080 /forwarded");
      }
    } finally {
      forward.destroy();
      forward.waitFor();
    }
  }

  @Test
  void aJobCompletesThroughItsController() {
    Job job =
        new JobBuilder()
            .withNewMetadata()
            .withName("once")
            .withNamespace("default")
            .endMetadata()
            .withNewSpec()
            .withBackoffLimit(0)
            .withNewTemplate()
            .withNewSpec()
            .withRestartPolicy("Never")
            .addNewContainer()
            .withName("main")
            .withImage("shell")
            .withCommand("bash", "-c", "echo done")
            .endContainer()
            .endSpec()
            .endTemplate()
            .endSpec()
            .build();
    cluster.client().resource(job).create();
    assertThat(
            Build.eventually(
                () ->
                    kubectl("get", "job", "once", "-o", "jsonpath={.status.succeeded}").equals("1"),
                Duration.ofSeconds(90)))
        .as("job succeeded; %s", kubectl("get", "job,pods", "-o", "wide"))
        .isTrue();
  }
}
