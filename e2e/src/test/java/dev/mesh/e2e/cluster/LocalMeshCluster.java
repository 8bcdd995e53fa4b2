package dev.mesh.e2e.cluster;

import dev.mesh.local.apps.LoadClient;
import dev.mesh.local.mesh.LocalMesh;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.SidecarStats;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The scenarios' cluster on this machine: {@link LocalMesh}, pods as network namespaces. */
public final class LocalMeshCluster implements MeshCluster {
  /** The uid the sample apps' calls are made as: neither root nor the proxy's 1337. */
  private static final int APP_UID = 1000;

  public final LocalMesh mesh;

  public LocalMeshCluster(Path repository, dev.mesh.local.cluster.LocalCluster.Api api)
      throws Exception {
    this.mesh = new LocalMesh("e2e", repository, api);
  }

  @Override
  public KubernetesClient client() {
    return mesh.cluster.client();
  }

  @Override
  public <T extends HasMetadata> T apply(T object) {
    return mesh.cluster.apply(object);
  }

  @Override
  public Pod createPod(Pod pod, Duration ready) throws Exception {
    return mesh.cluster.createPod(pod, (int) ready.toSeconds());
  }

  @Override
  public void deletePod(String namespace, String name) {
    mesh.cluster.deletePod(namespace, name);
  }

  @Override
  public Job createJob(Job job) throws Exception {
    return mesh.cluster.createJob(job);
  }

  @Override
  public String logs(String namespace, String pod, String container) {
    return mesh.cluster.logOf(namespace, pod, container);
  }

  @Override
  public String request(
      String namespace,
      String pod,
      String host,
      int port,
      String requestLine,
      String hostHeader,
      String... headers) {
    return NamespaceHttp.request(
            mesh.cluster.namespaceOf(namespace, pod),
            APP_UID,
            host,
            port,
            requestLine,
            hostHeader,
            headers)
        .stdout();
  }

  @Override
  public long accepted(String namespace, String pod, int listenerPort) {
    return SidecarStats.accepted(mesh.cluster.namespaceOf(namespace, pod), listenerPort);
  }

  @Override
  public Load startLoad(String namespace, String pod, String host, int port, int rps, String path)
      throws IOException {
    Path dir = mesh.cluster.state();
    Path out = Files.createTempFile(dir, "load-", ".txt");
    Process p =
        mesh.cluster
            .namespaceOf(namespace, pod)
            .start(
                List.of(
                    NetworkNamespace.javaBinary(),
                    "-XX:TieredStopAtLevel=1",
                    "-cp",
                    NetworkNamespace.classPath(),
                    LoadClient.class.getName(),
                    host,
                    Integer.toString(port),
                    Integer.toString(rps),
                    "600",
                    host,
                    out.toString(),
                    path),
                dir.resolve("load.log"));
    return new Load() {
      @Override
      public List<String> lines() {
        try {
          return Load.complete(Files.readString(out));
        } catch (IOException e) {
          return List.of();
        }
      }

      @Override
      public List<String> stop() throws InterruptedException {
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the load client did not stop in 30 s");
        }
        return lines();
      }
    };
  }

  @Override
  public void restartPilot() throws Exception {
    mesh.restartPilot();
  }

  @Override
  public Path kubeconfig() {
    return mesh.cluster.kubeconfig();
  }

  @Override
  public String pilotLog() {
    return mesh.pilotLog();
  }

  @Override
  public String sampleImage() {
    return LocalMesh.SAMPLE_IMAGE;
  }

  @Override
  public String curlImage() {
    return LocalMesh.CURL_IMAGE;
  }

  @Override
  public void close() {
    mesh.close();
  }
}
