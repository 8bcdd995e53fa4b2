package dev.mesh.e2e.cluster;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;

/**
 * A Kubernetes cluster with the mesh installed, as the e2e scenarios use it: its API, pods and Jobs
 * created and deleted as kubectl would, and what a user can observe from inside a pod. The
 * scenarios run unchanged on each implementation: the local cluster of network-namespace pods (the
 * default) and kind ({@code ./mvnw -Pe2e-kind verify}).
 */
public interface MeshCluster extends AutoCloseable {
  /**
   * The body of a response as {@link #request} returns it (head and body); all of it if no head.
   */
  static String body(String response) {
    int at = response.indexOf("\r\n\r\n");
    return at < 0 ? response : response.substring(at + 4);
  }

  /**
   * The status code of a response as {@link #request} returns it, whatever its HTTP version (the
   * request is HTTP/1.0, and a proxy answers in the request's version as Envoy does); -1 if none.
   */
  static int status(String response) {
    var m = java.util.regex.Pattern.compile("^HTTP/1\\.[01] (\\d{3})").matcher(response);
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }

  /**
   * Runs the built meshctl against this cluster, as a user with its kubeconfig would: its exit code
   * and its output (stdout and stderr).
   */
  default String[] meshctl(String... args) throws Exception {
    java.util.List<String> cmd =
        new java.util.ArrayList<>(
            java.util.List.of(
                java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar",
                java.nio.file.Path.of("../mesh-istioctl/target/meshctl.jar").toString()));
    cmd.addAll(java.util.List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("KUBECONFIG", kubeconfig().toString());
    Process p = pb.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("meshctl " + String.join(" ", args) + " did not end in 60 s");
    }
    return new String[] {Integer.toString(p.exitValue()), out};
  }

  /** The cluster's API. */
  KubernetesClient client();

  /** Creates or updates an object, as kubectl apply. */
  <T extends HasMetadata> T apply(T object);

  /**
   * Creates a pod (injected by the mesh's webhook where the rules say so); it as stored, once
   * Ready.
   */
  Pod createPod(Pod pod, Duration ready) throws Exception;

  /** Deletes a pod gracefully (SIGTERM, then the grace period); returns once it is gone. */
  void deletePod(String namespace, String name) throws Exception;

  /** Creates a Job; its controller makes its pod. */
  Job createJob(Job job) throws Exception;

  /** What a container wrote, as kubectl logs shows it. */
  String logs(String namespace, String pod, String container);

  /**
   * An HTTP/1.0 request made from inside a pod's app container, its traffic captured as the app's
   * own: the raw response (status line, headers, body).
   */
  String request(
      String namespace,
      String pod,
      String host,
      int port,
      String requestLine,
      String hostHeader,
      String... headers);

  /** Connections a pod's sidecar has accepted on a listener, from the proxy's admin stats. */
  long accepted(String namespace, String pod, int listenerPort);

  /** Open-loop load (LoadClient) from inside a pod: {@code rps} GETs of {@code path} a second. */
  Load startLoad(String namespace, String pod, String host, int port, int rps, String path)
      throws Exception;

  /** Restarts pilot as its Deployment would after a crash; returns once the new one serves. */
  void restartPilot() throws Exception;

  /** A kubeconfig for this cluster: meshctl run with it reaches pods as kubectl would. */
  java.nio.file.Path kubeconfig();

  /** Pilot's log, for failure messages. */
  String pilotLog();

  /** The image of the sample app (args: name, answer, port). */
  String sampleImage();

  /** A pod of the sample app answering "{@code app} {@code answer}" on 8080 (port http). */
  default io.fabric8.kubernetes.api.model.Pod samplePod(
      String namespace,
      String name,
      java.util.Map<String, String> labels,
      String app,
      String answer) {
    return new io.fabric8.kubernetes.api.model.PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(namespace)
        .addToLabels(labels)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(sampleImage())
        .withArgs(app, answer, "8080")
        .addNewPort()
        .withName("http")
        .withContainerPort(8080)
        .endPort()
        .endContainer()
        .endSpec()
        .build();
  }

  /** An image whose entrypoint is curl, with a shell. */
  String curlImage();

  /** Removes everything the cluster started. */
  @Override
  void close();
}
