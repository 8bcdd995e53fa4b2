package dev.mesh.istioctl;

import dev.mesh.local.apps.LatencyClient;
import dev.mesh.local.mesh.LocalMesh;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.ReadableCopy;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The README's first command: the whole mesh on the local cluster (network-namespace pods, no
 * Kubernetes needed), a Bookinfo-like sample, a VirtualService splitting reviews, traffic, and what
 * the mesh did with it.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Starts the mesh on the local cluster (network-namespace pods, no Kubernetes needed, root",
      "needed), deploys a Bookinfo-like sample, routes traffic and shows what the mesh did."
    })
final class DemoCommand implements Callable<Integer> {
  static final String NS = "bookinfo";
  // The demo prints its own account of what happens; the cluster's log lines would repeat it.
  private static final java.util.logging.Logger CLUSTER_LOG =
      java.util.logging.Logger.getLogger("dev.mesh.local");
  static final Map<String, Integer> WEIGHTS = Map.of("v1", 70, "v2", 0, "v3", 30);

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(
      names = "--for",
      paramLabel = "DURATION",
      description = "Run this long (e.g. 60s), then tear down; default: until Ctrl-C.")
  String runFor;

  @CommandLine.Option(
      names = "--requests",
      defaultValue = "200",
      description = "requests sent to measure the split (default 200)")
  int requests;

  @CommandLine.Option(
      names = "--api",
      defaultValue = "embedded",
      description = {
        "embedded (default): fabric8's mock API in this JVM, needs only a JDK;",
        "kubernetes: a real control plane (etcd, kube-apiserver, controllers, scheduler) built",
        "from Kubernetes' Go modules by install/kube/build.sh, the mesh installed with kubectl."
      })
  String api;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Duration stay = null;
    if (runFor != null) {
      try {
        stay = InstallCommand.duration(runFor);
      } catch (CommandLine.TypeConversionException e) {
        err.println("meshctl demo: --for " + e.getMessage());
        return 2;
      }
    }
    if (!Host.isRoot()) {
      err.println(
          "meshctl demo needs root: the local cluster makes network namespaces, veth links and"
              + " iptables rules for its pods (run it as root, e.g. sudo ./meshctl demo).");
      return 1;
    }
    dev.mesh.local.cluster.LocalCluster.Api which;
    switch (api) {
      case "embedded" -> which = dev.mesh.local.cluster.LocalCluster.Api.EMBEDDED;
      case "kubernetes" -> {
        which = dev.mesh.local.cluster.LocalCluster.Api.KUBERNETES;
        var binaries = dev.mesh.local.kube.KubeBinaries.pinned();
        if (!binaries.present()) {
          err.println("meshctl demo --api=kubernetes: " + binaries.describeMissing());
          return 1;
        }
      }
      default -> {
        err.println("meshctl demo: --api is embedded or kubernetes, not " + api);
        return 2;
      }
    }
    CLUSTER_LOG.setLevel(java.util.logging.Level.WARNING);
    Path root = Path.of(System.getProperty("mesh.home", ".")).toAbsolutePath().normalize();
    out.println(
        which == dev.mesh.local.cluster.LocalCluster.Api.KUBERNETES
            ? "starting the local mesh on Kubernetes: etcd, kube-apiserver, controllers, scheduler,"
                + " the node; then kubectl apply -f install/mesh.yaml ..."
            : "starting the local mesh: API server, pilot, sidecar injector ...");
    out.flush();
    LocalMesh mesh = new LocalMesh("demo", root, which);
    Thread teardown = new Thread(mesh::close, "meshctl-demo-teardown");
    Runtime.getRuntime().addShutdownHook(teardown);
    try {
      deploy(mesh, out);
      NetworkNamespace client = mesh.cluster.namespaceOf(NS, "sleep");
      out.printf("sending %d requests to productpage ...%n", requests);
      out.flush();
      Map<String, Integer> seen = new TreeMap<>();
      int failed = 0;
      List<Long> micros = new java.util.ArrayList<>();
      // One client process in the pod, its requests one after another on a keep-alive
      // connection, each timed by the client: what an app calling productpage sees.
      Host.Result calls =
          client.exec(
              "setpriv",
              "--reuid=1000",
              "--regid=1000",
              "--clear-groups",
              NetworkNamespace.javaBinary(),
              "-XX:TieredStopAtLevel=1",
              "-cp",
              ReadableCopy.classPath(
                  Path.of(
                          LatencyClient.class
                              .getProtectionDomain()
                              .getCodeSource()
                              .getLocation()
                              .toURI())
                      .toString()),
              LatencyClient.class.getName(),
              "productpage." + NS,
              "9080",
              "productpage." + NS,
              "/",
              Integer.toString(requests));
      for (String line : calls.stdout().lines().toList()) {
        String[] parts = line.split(" ", 3);
        int at = line.indexOf("reviews ");
        if (parts.length < 3 || !parts[1].equals("200") || at < 0) {
          failed++;
          continue;
        }
        micros.add(Long.parseLong(parts[0]));
        seen.merge(line.substring(at, at + "reviews v1".length()), 1, Integer::sum);
      }
      failed += Math.max(0, requests - calls.stdout().lines().count());
      out.println();
      out.println(
          "VirtualService reviews routes 70% to v1 and 30% to v3. What the responses showed:");
      for (String v : List.of("v1", "v2", "v3")) {
        int n = seen.getOrDefault("reviews " + v, 0);
        out.printf(
            "  reviews %s  %4d  %5.1f%%   (configured %d%%)%n",
            v, n, 100.0 * n / requests, WEIGHTS.get(v));
      }
      if (failed > 0) {
        out.printf("  failed      %4d%n", failed);
      }
      if (!micros.isEmpty()) {
        java.util.Collections.sort(micros);
        out.printf(
            "Latency a client sees calling productpage (through the sidecars of every hop):"
                + " p50 %.1f ms, p99 %.1f ms over %d requests%n",
            micros.get(micros.size() / 2) / 1000.0,
            micros.get(Math.min(micros.size() - 1, (int) Math.ceil(micros.size() * 0.99) - 1))
                / 1000.0,
            micros.size());
      }
      out.println();
      out.println("proxy-status:");
      out.flush();
      var status = Meshctl.commandLine();
      status.setOut(out);
      status.setErr(err);
      status.execute("proxy-status", "--pilot-url", mesh.pilotMonitoring().toString());
      out.println();
      out.println("Try it yourself (as root), while the demo runs:");
      out.println(
          "  curl through the mesh:  ip netns exec "
              + client.name()
              + " curl -s http://productpage."
              + NS
              + ":9080/");
      String kube = "KUBECONFIG=" + mesh.cluster.kubeconfig();
      out.println(
          "  a proxy's config:       "
              + kube
              + " ./meshctl proxy-config clusters productpage-v1."
              + NS);
      out.println("  sync state:             " + kube + " ./meshctl proxy-status");
      if (which == dev.mesh.local.cluster.LocalCluster.Api.KUBERNETES) {
        String kubectl =
            kube + " " + dev.mesh.local.kube.KubeBinaries.pinned().binary("kubectl") + " ";
        out.println("  the cluster:            " + kubectl + "get pods -A");
        out.println(
            "  a sidecar's log:        "
                + kubectl
                + "logs -n "
                + NS
                + " productpage-v1 -c istio-proxy");
        out.println(
            "  the routing rule:       "
                + kubectl
                + "get virtualservice -n "
                + NS
                + " reviews -o yaml");
      }
      out.println(
          "  an Envoy admin page:    ip netns exec "
              + mesh.cluster.namespaceOf(NS, "productpage-v1").name()
              + " curl -s localhost:15000/config_dump");
      out.println(
          stay == null ? "Ctrl-C to stop and tear down." : "tearing down in " + runFor + ".");
      out.flush();
      if (stay == null) {
        Thread.sleep(Long.MAX_VALUE);
      } else {
        Thread.sleep(stay.toMillis());
      }
      return failed == 0 ? 0 : 1;
    } finally {
      mesh.close();
      try {
        Runtime.getRuntime().removeShutdownHook(teardown);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running already
      }
    }
  }

  private static void deploy(LocalMesh mesh, PrintWriter out) throws Exception {
    var cluster = mesh.cluster;
    cluster.apply(
        new NamespaceBuilder()
            .withNewMetadata()
            .withName(NS)
            .addToLabels("istio-injection", "enabled")
            .endMetadata()
            .build());
    for (String svc : List.of("productpage", "reviews", "ratings")) {
      cluster.apply(
          new ServiceBuilder()
              .withNewMetadata()
              .withName(svc)
              .withNamespace(NS)
              .endMetadata()
              .withNewSpec()
              .addToSelector("app", svc)
              .addNewPort()
              .withName("http")
              .withPort(9080)
              .withNewTargetPort(9080)
              .endPort()
              .endSpec()
              .build());
    }
    for (String yaml :
        List.of(
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              host: reviews
              subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: v3, labels: {version: v3}}]
            """,
            """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: bookinfo}
            spec:
              hosts: [reviews]
              http:
              - route:
                - {destination: {host: reviews, subset: v1}, weight: 70}
                - {destination: {host: reviews, subset: v3}, weight: 30}
            """)) {
      for (var resource : dev.mesh.config.IstioResources.parseAll(yaml)) {
        cluster.client().resource(resource).create();
      }
    }
    start(mesh, out, sample("ratings-v1", "ratings", "v1", null));
    start(mesh, out, sample("reviews-v1", "reviews", "v1", null));
    start(mesh, out, sample("reviews-v2", "reviews", "v2", "http://ratings:9080/"));
    start(mesh, out, sample("reviews-v3", "reviews", "v3", "http://ratings:9080/"));
    start(mesh, out, sample("productpage-v1", "productpage", "v1", "http://reviews:9080/"));
    // A client without a sidecar, as a user's shell would be.
    Pod sleep =
        new PodBuilder()
            .withNewMetadata()
            .withName("sleep")
            .withNamespace(NS)
            .addToLabels("app", "sleep")
            .addToLabels("sidecar.istio.io/inject", "false")
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("sleep")
            .withImage(LocalMesh.ECHO_IMAGE)
            .withArgs("0.0.0.0:8000")
            .endContainer()
            .endSpec()
            .build();
    start(mesh, out, sleep);
  }

  private static void start(LocalMesh mesh, PrintWriter out, Pod pod) throws Exception {
    out.println("  pod " + NS + "/" + pod.getMetadata().getName() + " ...");
    out.flush();
    Pod running = mesh.cluster.createPod(pod, 180);
    boolean injected =
        running.getSpec().getContainers().stream().anyMatch(c -> c.getName().equals("istio-proxy"));
    out.println(
        "  pod "
            + NS
            + "/"
            + pod.getMetadata().getName()
            + " running at "
            + running.getStatus().getPodIP()
            + (injected ? ", with its sidecar" : ", no sidecar"));
    out.flush();
  }

  private static Pod sample(String name, String app, String version, String downstream) {
    List<String> args =
        downstream == null
            ? List.of(app, version, "9080")
            : List.of(app, version, "9080", downstream);
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(NS)
        .addToLabels("app", app)
        .addToLabels("version", version)
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName(app)
        .withImage(LocalMesh.SAMPLE_IMAGE)
        .withArgs(args)
        .addNewPort()
        .withName("http")
        .withContainerPort(9080)
        .endPort()
        .endContainer()
        .endSpec()
        .build();
  }
}
