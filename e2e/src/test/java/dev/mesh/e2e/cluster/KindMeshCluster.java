package dev.mesh.e2e.cluster;

import dev.mesh.local.apps.LoadClient;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.SidecarStats;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;

/**
 * The scenarios' cluster on kind ({@code ./mvnw -Pe2e-kind verify}): a kind cluster created for the
 * run, this build's images (jib tars of the images profile) loaded into it, the mesh installed with
 * {@code meshctl install}, and pods reached through the API (exec, logs). Needs the kind CLI and a
 * Docker engine; without them the scenarios are skipped, saying which is missing.
 */
public final class KindMeshCluster implements MeshCluster {
  static final String NAME = "mesh-e2e";

  /** The images this build makes (-Pimages or -Pe2e-kind), as jib tars, by module. */
  static final List<String> IMAGE_MODULES =
      List.of("mesh-pilot", "mesh-injector", "mesh-agent", "mesh-local");

  private final Path kubeconfig;
  private final KubernetesClient client;
  private final AtomicInteger loads = new AtomicInteger();

  private KindMeshCluster(Path kubeconfig) throws IOException {
    this.kubeconfig = kubeconfig;
    this.client =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
            .build();
  }

  /**
   * Why kind cannot run on this machine, given its environment; null when it can. Looks for the
   * kind and docker commands on PATH and asks the Docker engine for its version.
   */
  public static String unavailable(Map<String, String> env) {
    String path = env.getOrDefault("PATH", "");
    List<String> reasons = new ArrayList<>();
    if (onPath("kind", path) == null) {
      reasons.add("the kind command is not on PATH");
    }
    Path docker = onPath("docker", path);
    if (docker == null) {
      reasons.add("the docker command is not on PATH");
    } else {
      Run info =
          run(
              env,
              Duration.ofSeconds(30),
              docker.toString(),
              "info",
              "--format",
              "{{.ServerVersion}}");
      if (info.code != 0) {
        String said = info.output.strip();
        int nl = said.indexOf('\n');
        reasons.add(
            "no Docker engine answers (docker info: "
                + (nl < 0 ? said : said.substring(0, nl))
                + ")");
      }
    }
    if (reasons.isEmpty()) {
      return null;
    }
    return String.join("; ", reasons)
        + ". The kind profile needs the kind CLI (https://kind.sigs.k8s.io) and a running Docker"
        + " engine; the same scenarios run on the local cluster with ./mvnw verify.";
  }

  /** A kind cluster with the mesh installed; skips the calling tests when kind cannot run here. */
  public static KindMeshCluster start(Path repository) throws Exception {
    String why = unavailable(System.getenv());
    if (why != null) {
      // Surefire counts a class skipped in @BeforeAll as no test at all: say it on the console.
      System.err.println("kind profile skipped: " + why);
    }
    Assumptions.assumeTrue(why == null, () -> "kind profile skipped: " + why);
    Path kubeconfig = repository.resolve("e2e/target/kind-kubeconfig").toAbsolutePath();
    Map<String, String> env = System.getenv();
    run(env, Duration.ofMinutes(5), "kind", "delete", "cluster", "--name", NAME);
    check(
        run(
            env,
            Duration.ofMinutes(10),
            "kind",
            "create",
            "cluster",
            "--name",
            NAME,
            "--kubeconfig",
            kubeconfig.toString(),
            "--wait",
            "180s"),
        "kind create cluster");
    for (String module : IMAGE_MODULES) {
      Path tar = repository.resolve(module).resolve("target/jib-image.tar");
      if (!Files.isRegularFile(tar)) {
        throw new IllegalStateException(tar + " is missing: build the images (-Pe2e-kind does)");
      }
      check(
          run(
              env,
              Duration.ofMinutes(5),
              "kind",
              "load",
              "image-archive",
              tar.toString(),
              "--name",
              NAME),
          "kind load " + tar);
    }
    Map<String, String> withKubeconfig = new java.util.HashMap<>(env);
    withKubeconfig.put("KUBECONFIG", kubeconfig.toString());
    check(
        run(
            withKubeconfig,
            Duration.ofMinutes(6),
            java(),
            "-jar",
            repository.resolve("mesh-istioctl/target/meshctl.jar").toString(),
            "install",
            "--wait",
            "--timeout",
            "5m"),
        "meshctl install");
    return new KindMeshCluster(kubeconfig);
  }

  @Override
  public KubernetesClient client() {
    return client;
  }

  @Override
  public <T extends HasMetadata> T apply(T object) {
    return client.resource(object).createOr(NonDeletingOperation::update);
  }

  @Override
  public Pod createPod(Pod pod, Duration ready) {
    client.resource(pod).create();
    return client
        .pods()
        .inNamespace(pod.getMetadata().getNamespace())
        .withName(pod.getMetadata().getName())
        .waitUntilReady(ready.toSeconds(), TimeUnit.SECONDS);
  }

  @Override
  public void deletePod(String namespace, String name) {
    var pod = client.pods().inNamespace(namespace).withName(name);
    pod.delete();
    pod.waitUntilCondition(Objects::isNull, 2, TimeUnit.MINUTES);
  }

  @Override
  public Job createJob(Job job) {
    return client.resource(job).create();
  }

  @Override
  public String logs(String namespace, String pod, String container) {
    return client.pods().inNamespace(namespace).withName(pod).inContainer(container).getLog();
  }

  /** A command run in a container through the API (kubectl exec); its stdout. */
  private String exec(String namespace, String pod, String container, String... command) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ExecWatch w =
        client
            .pods()
            .inNamespace(namespace)
            .withName(pod)
            .inContainer(container)
            .writingOutput(out)
            .exec(command)) {
      w.exitCode().get(2, TimeUnit.MINUTES);
    } catch (Exception e) {
      throw new IllegalStateException(
          "exec in " + namespace + "/" + pod + "/" + container + ": " + e.getMessage(), e);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /** The pod's first container that is not the sidecar: the app. */
  private String app(String namespace, String pod) {
    return client
        .pods()
        .inNamespace(namespace)
        .withName(pod)
        .get()
        .getSpec()
        .getContainers()
        .stream()
        .map(c -> c.getName())
        .filter(n -> !n.equals("istio-proxy"))
        .findFirst()
        .orElseThrow();
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
    return exec(
        namespace,
        pod,
        app(namespace, pod),
        "bash",
        "-c",
        NamespaceHttp.script(host, port, requestLine, hostHeader, headers));
  }

  @Override
  public long accepted(String namespace, String pod, int listenerPort) {
    String stats =
        exec(
            namespace,
            pod,
            "istio-proxy",
            "bash",
            "-c",
            NamespaceHttp.script("127.0.0.1", 15000, "GET /stats", "127.0.0.1"));
    return SidecarStats.accepted(stats, listenerPort);
  }

  @Override
  public Load startLoad(String namespace, String pod, String host, int port, int rps, String path) {
    String container = app(namespace, pod);
    String out = "/tmp/load-" + loads.incrementAndGet() + ".txt";
    // The sample image is jib's: its class path is listed in /app/jib-classpath-file.
    String pid =
        exec(
                namespace,
                pod,
                container,
                "sh",
                "-c",
                "nohup java -cp @/app/jib-classpath-file %s %s %d %d 600 %s %s %s > %s.log 2>&1 & echo $!"
                    .formatted(LoadClient.class.getName(), host, port, rps, host, out, path, out))
            .strip();
    return new Load() {
      @Override
      public List<String> lines() {
        return Load.complete(exec(namespace, pod, container, "cat", out));
      }

      @Override
      public List<String> stop() {
        exec(
            namespace,
            pod,
            container,
            "sh",
            "-c",
            "kill %s; while kill -0 %s 2>/dev/null; do sleep 0.2; done".formatted(pid, pid));
        return lines();
      }
    };
  }

  @Override
  public void restartPilot() {
    client.pods().inNamespace("mesh-system").withLabel("app", "mesh-pilot").delete();
    client
        .apps()
        .deployments()
        .inNamespace("mesh-system")
        .withName("mesh-pilot")
        .waitUntilCondition(
            d ->
                d != null
                    && d.getStatus() != null
                    && Objects.equals(d.getStatus().getReadyReplicas(), 1)
                    && Objects.equals(d.getStatus().getUpdatedReplicas(), 1)
                    && d.getStatus().getUnavailableReplicas() == null,
            3,
            TimeUnit.MINUTES);
  }

  @Override
  public Path kubeconfig() {
    return kubeconfig;
  }

  @Override
  public String pilotLog() {
    StringBuilder b = new StringBuilder();
    for (Pod p :
        client.pods().inNamespace("mesh-system").withLabel("app", "mesh-pilot").list().getItems()) {
      b.append(logs("mesh-system", p.getMetadata().getName(), "discovery"));
    }
    return b.toString();
  }

  @Override
  public String sampleImage() {
    return "mesh/sample:1";
  }

  @Override
  public String curlImage() {
    return "curlimages/curl:8.11.1";
  }

  @Override
  public void close() {
    client.close();
    run(System.getenv(), Duration.ofMinutes(5), "kind", "delete", "cluster", "--name", NAME);
  }

  private record Run(int code, String output) {}

  private static Run run(Map<String, String> env, Duration limit, String... command) {
    Path output = null;
    try {
      output = Files.createTempFile("mesh-kind-", ".out");
      ProcessBuilder pb =
          new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile());
      pb.environment().clear();
      pb.environment().putAll(env);
      Process p = pb.start();
      p.getOutputStream().close();
      if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return new Run(-1, String.join(" ", command) + " took longer than " + limit);
      }
      return new Run(p.exitValue(), Files.readString(output));
    } catch (IOException e) {
      return new Run(-1, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Run(-1, "interrupted");
    } finally {
      if (output != null) {
        output.toFile().delete();
      }
    }
  }

  private static void check(Run r, String what) {
    if (r.code != 0) {
      throw new IllegalStateException(what + " failed (exit " + r.code + "): " + r.output.strip());
    }
  }

  private static Path onPath(String command, String path) {
    for (String dir : path.split(File.pathSeparator)) {
      if (dir.isEmpty()) {
        continue;
      }
      Path p = Path.of(dir, command);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }
}
