package dev.mesh.local.kube;

import dev.mesh.local.Build;
import dev.mesh.local.netns.NetworkNamespace;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * A real Kubernetes control plane for the local cluster: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler (the binaries of {@link KubeBinaries}) run inside the
 * hub network namespace, the API server on the node's private address ({@link #ADDRESS}), where
 * pods reach it through the kubernetes Service and from where it dials webhooks at their cluster
 * IPs through the hub's DNAT, as an API server on a node does. Host processes (kubectl, the
 * kubelet) reach it through a relay: a TCP port on 127.0.0.1 to a Unix socket, the socket to the
 * API server's port by a relay process inside the hub. The same relay process carries the API
 * server's calls to the kubelet's port ({@value #KUBELET_PORT}) to the kubelet's Unix socket.
 *
 * <p>All of it lives in the hub namespace and the cluster's state directory, so the sweep of a dead
 * owner's namespaces and directories ends every process and removes etcd's data.
 */
public final class ControlPlane implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ControlPlane.class.getName());

  /** The node's address in the hub: the API server's advertise address and the kubelet's. */
  public static final String ADDRESS = "10.44.0.1";

  public static final int API_PORT = 6443;
  public static final int KUBELET_PORT = 10250;
  public static final String SERVICE_RANGE = "10.96.0.0/16";
  public static final String POD_RANGE = "10.44.0.0/16";

  /** The kubernetes Service's cluster IP: the first of the range. */
  public static final String KUBERNETES_SERVICE_IP = "10.96.0.1";

  /** The service-account token issuer, as kubeadm sets it. */
  public static final String ISSUER = "https://kubernetes.default.svc.cluster.local";

  private final Path dir;
  private final NetworkNamespace hub;
  private final String node;
  private final ControlPlanePki pki;
  private final List<Process> processes = new ArrayList<>();
  private SocketRelay hostRelay;

  private ControlPlane(Path dir, NetworkNamespace hub, String node) {
    this.dir = dir;
    this.hub = hub;
    this.node = node;
    this.pki =
        ControlPlanePki.make(
            dir.resolve("pki"),
            List.of(
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "localhost",
                KUBERNETES_SERVICE_IP,
                ADDRESS,
                "127.0.0.1"),
            node,
            List.of(node, ADDRESS));
  }

  /**
   * Starts the control plane for node {@code node} in {@code hub}, its files under {@code dir};
   * returns once the API server is ready and the controllers have made the default service account,
   * so that pods can be created.
   */
  public static ControlPlane start(
      KubeBinaries binaries, Path dir, NetworkNamespace hub, String node, Duration within) {
    if (!binaries.present()) {
      throw new IllegalStateException(binaries.describeMissing());
    }
    ControlPlane cp = new ControlPlane(dir, hub, node);
    try {
      cp.run(binaries, within);
      return cp;
    } catch (RuntimeException e) {
      cp.close();
      throw e;
    }
  }

  private void run(KubeBinaries bin, Duration within) {
    long t0 = System.nanoTime();
    hub.exec("ip", "addr", "add", ADDRESS + "/32", "dev", "lo").orThrow("the node's address");
    writeFiles();
    Path p = dir.resolve("pki");
    start(
        "etcd",
        List.of(
            bin.binary("etcd").toString(),
            "--name=mesh",
            "--data-dir=" + dir.resolve("etcd"),
            "--listen-client-urls=http://127.0.0.1:2379",
            "--advertise-client-urls=http://127.0.0.1:2379",
            "--listen-peer-urls=http://127.0.0.1:2380",
            "--initial-advertise-peer-urls=http://127.0.0.1:2380",
            "--initial-cluster=mesh=http://127.0.0.1:2380",
            "--log-level=warn",
            // The cluster lives as long as its run; fsync on a shared disk costs seconds a write.
            "--unsafe-no-fsync"));
    start(
        "relay",
        List.of(
            NetworkNamespace.javaBinary(),
            "-XX:TieredStopAtLevel=1",
            "-Xmx32m",
            "-XX:+UseSerialGC",
            "-cp",
            NetworkNamespace.classPath(),
            SocketRelay.class.getName(),
            "unix:" + apiSocket(),
            "tcp:" + ADDRESS + ":" + API_PORT,
            "tcp:" + ADDRESS + ":" + KUBELET_PORT,
            "unix:" + kubeletSocket()));
    start(
        "kube-apiserver",
        List.of(
            bin.binary("kube-apiserver").toString(),
            "--etcd-servers=http://127.0.0.1:2379",
            "--advertise-address=" + ADDRESS,
            "--bind-address=" + ADDRESS,
            "--secure-port=" + API_PORT,
            "--tls-cert-file=" + p.resolve("apiserver.crt"),
            "--tls-private-key-file=" + p.resolve("apiserver.key"),
            "--client-ca-file=" + p.resolve("ca.crt"),
            "--service-account-issuer=" + ISSUER,
            "--service-account-key-file=" + p.resolve("sa.pub"),
            "--service-account-signing-key-file=" + p.resolve("sa.key"),
            "--service-cluster-ip-range=" + SERVICE_RANGE,
            "--authorization-mode=Node,RBAC",
            // On top of the default plugins (ServiceAccount, the webhooks, ...), as kubeadm.
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--kubelet-client-certificate=" + p.resolve("apiserver-kubelet-client.crt"),
            "--kubelet-client-key=" + p.resolve("apiserver-kubelet-client.key"),
            "--kubelet-certificate-authority=" + p.resolve("ca.crt"),
            "--kubelet-preferred-address-types=InternalIP",
            "--audit-policy-file=" + dir.resolve("audit-policy.yaml"),
            "--audit-log-path=" + auditLog(),
            "--audit-log-format=json",
            "--profiling=false",
            "--cert-dir=" + dir.resolve("apiserver-certs")));
    hostRelay = SocketRelay.start("tcp:127.0.0.1:0", "unix:" + apiSocket());
    writeKubeconfig("admin", dir.resolve("admin.kubeconfig"));
    writeKubeconfig("node", dir.resolve("kubelet.kubeconfig"));
    writeKubeconfig("kube-proxy", dir.resolve("kube-proxy.kubeconfig"));
    // The controllers exit when they cannot read the authentication ConfigMap: start them once the
    // API server's bootstrap (RBAC roles and bindings, that ConfigMap) is done, as its /readyz.
    try (KubernetesClient admin = client("admin")) {
      boolean bootstrapped =
          Build.eventually(
              () -> {
                requireRunning();
                try {
                  return admin
                              .rbac()
                              .roleBindings()
                              .inNamespace("kube-system")
                              .withName("system::extension-apiserver-authentication-reader")
                              .get()
                          != null
                      && admin
                              .configMaps()
                              .inNamespace("kube-system")
                              .withName("extension-apiserver-authentication")
                              .get()
                          != null;
                } catch (RuntimeException e) {
                  return false;
                }
              },
              within);
      if (!bootstrapped) {
        throw new IllegalStateException(
            "the API server did not finish its bootstrap in "
                + within.toSeconds()
                + " s; logs in "
                + dir);
      }
    }
    start(
        "kube-controller-manager",
        List.of(
            bin.binary("kube-controller-manager").toString(),
            "--kubeconfig=" + dir.resolve("controller-manager.kubeconfig"),
            "--authentication-kubeconfig=" + dir.resolve("controller-manager.kubeconfig"),
            "--authorization-kubeconfig=" + dir.resolve("controller-manager.kubeconfig"),
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            // Each controller as its own service account, so RBAC applies to each as in kubeadm.
            "--use-service-account-credentials=true",
            "--service-account-private-key-file=" + p.resolve("sa.key"),
            "--root-ca-file=" + p.resolve("ca.crt"),
            "--cluster-signing-cert-file=" + p.resolve("ca.crt"),
            "--cluster-signing-key-file=" + p.resolve("ca.key"),
            "--service-cluster-ip-range=" + SERVICE_RANGE,
            "--profiling=false"));
    start(
        "kube-scheduler",
        List.of(
            bin.binary("kube-scheduler").toString(),
            "--kubeconfig=" + dir.resolve("scheduler.kubeconfig"),
            "--authentication-kubeconfig=" + dir.resolve("scheduler.kubeconfig"),
            "--authorization-kubeconfig=" + dir.resolve("scheduler.kubeconfig"),
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
            "--profiling=false"));
    try (KubernetesClient admin = client("admin")) {
      boolean ready =
          Build.eventually(
              () -> {
                requireRunning();
                try {
                  return admin.serviceAccounts().inNamespace("default").withName("default").get()
                      != null;
                } catch (RuntimeException e) {
                  return false;
                }
              },
              within);
      if (!ready) {
        throw new IllegalStateException(
            "the control plane was not ready in "
                + within.toSeconds()
                + " s (the default service account is not there); logs in "
                + dir);
      }
    }
    LOG.info(
        "control plane ready in "
            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)
            + " ms: API server "
            + url()
            + " (in the hub at https://"
            + ADDRESS
            + ":"
            + API_PORT
            + "), node "
            + node);
  }

  /** Fails with the component's log when one of the control plane's processes has exited. */
  private void requireRunning() {
    for (Process p : processes) {
      if (!p.isAlive()) {
        String name = names.get(processes.indexOf(p));
        throw new IllegalStateException(
            name + " exited " + p.exitValue() + "; the end of its log:\n" + tail(name + ".log"));
      }
    }
  }

  private final List<String> names = new ArrayList<>();

  private void start(String name, List<String> command) {
    processes.add(hub.start(command, dir.resolve(name + ".log")));
    names.add(name);
  }

  private void writeFiles() {
    try {
      Files.createDirectories(dir);
      // Who did what, for what service accounts did (pilot's and the injector's among them);
      // the API server's own and the controllers' requests are left out as noise.
      Files.writeString(
          dir.resolve("audit-policy.yaml"),
          """
          apiVersion: audit.k8s.io/v1
          kind: Policy
          omitStages: [RequestReceived]
          rules:
          - level: None
            users: ["system:apiserver", "system:kube-controller-manager", "system:kube-scheduler"]
          - level: None
            userGroups: ["system:nodes"]
          - level: None
            resources:
            - group: coordination.k8s.io
              resources: [leases]
          - level: Metadata
            userGroups: ["system:serviceaccounts", "system:masters"]
          - level: None
          """);
      String inHub = "https://" + ADDRESS + ":" + API_PORT;
      for (String c : List.of("controller-manager", "scheduler")) {
        Files.writeString(dir.resolve(c + ".kubeconfig"), pki.kubeconfig(c, inHub));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the control plane's files in " + dir, e);
    }
  }

  private void writeKubeconfig(String user, Path file) {
    try {
      Files.writeString(file, pki.kubeconfig(user, url()));
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** The API server as host processes reach it. */
  public String url() {
    return "https://127.0.0.1:" + hostRelay.port();
  }

  /** The admin's kubeconfig (group system:masters), for kubectl. */
  public Path adminKubeconfig() {
    return dir.resolve("admin.kubeconfig");
  }

  /** A client as {@code user}: admin, node (the kubelet), kube-proxy. */
  public KubernetesClient client(String user) {
    Path p = dir.resolve("pki");
    Config config =
        new io.fabric8.kubernetes.client.ConfigBuilder(Config.empty())
            .withMasterUrl(url())
            .withCaCertFile(p.resolve("ca.crt").toString())
            .withClientCertFile(p.resolve(user + ".crt").toString())
            .withClientKeyFile(p.resolve(user + ".key").toString())
            .withClientKeyAlgo("EC")
            .withNamespace("default")
            .withRequestTimeout(30_000)
            // fabric8 allows 5 requests in flight per host by default; the node's watches
            // (pods, services, endpoints) and its status calls share this client, and a request
            // queued behind them can wait indefinitely (a pod left Pending by its own node).
            .withMaxConcurrentRequests(256)
            .withMaxConcurrentRequestsPerHost(256)
            .build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  public ControlPlanePki pki() {
    return pki;
  }

  public String node() {
    return node;
  }

  /** Where the relay in the hub sends the API server's calls to the kubelet. */
  public Path kubeletSocket() {
    return dir.resolve("kubelet.sock");
  }

  private Path apiSocket() {
    return dir.resolve("api.sock");
  }

  /** The API server's audit log (JSON lines). */
  public Path auditLog() {
    return dir.resolve("audit.log");
  }

  /** The end of a component's log (kube-apiserver.log, ...). */
  public String tail(String log) {
    try {
      List<String> lines = Files.readAllLines(dir.resolve(log));
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no " + log + ")";
    }
  }

  /** Stops the components in reverse order of their start, each with SIGTERM, then SIGKILL. */
  @Override
  public void close() {
    if (hostRelay != null) {
      hostRelay.close();
    }
    for (int i = processes.size() - 1; i >= 0; i--) {
      Process p = processes.get(i);
      p.destroy();
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        p.destroyForcibly();
      }
    }
  }
}
