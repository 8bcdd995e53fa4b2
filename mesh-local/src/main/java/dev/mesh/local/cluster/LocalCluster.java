package dev.mesh.local.cluster;

import dev.mesh.local.kube.ControlPlane;
import dev.mesh.local.kube.KubeBinaries;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.PodNetwork;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The local cluster of ARCHITECTURE.md: a hub namespace as the node, pods as network namespaces
 * routed through it, kube-proxy's DNAT for cluster IPs, names through each pod's hosts file (in
 * place of cluster DNS). Its API is one of two ({@link Api}): fabric8's mock API server (CRUD) on
 * loopback, where the cluster itself admits pods through the stored webhooks, assigns cluster IPs,
 * keeps EndpointSlices and runs Jobs; or a real control plane ({@link ControlPlane}) for which the
 * cluster is the node's kubelet and kube-proxy.
 */
public final class LocalCluster implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(LocalCluster.class.getName());
  // The mock API server logs every request; the cluster's users want to see their own events.
  private static final Logger API_SERVER_LOG = Logger.getLogger("io.fabric8.mockwebserver");

  static {
    API_SERVER_LOG.setLevel(java.util.logging.Level.WARNING);
  }

  /** Which API the cluster runs on. */
  public enum Api {
    /** fabric8's mock API server: needs only a JDK. */
    EMBEDDED,
    /** etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from Go modules. */
    KUBERNETES
  }

  /** The node's name in the real control plane's API. */
  public static final String NODE = "mesh-node";

  private final String name;
  private final Path state;
  private final Api api;
  private final KubernetesMockServer server;
  private KubernetesClient client;
  private final PodNetwork net;
  private final ImageTable images;
  private final WebhookCaller webhooks;
  private ControlPlane controlPlane;
  private Kubelet kubelet;
  private ServiceProxy serviceProxy;
  private dev.mesh.local.kubelet.server.KubeletServer kubeletApi;
  private final Map<String, URI> hostServices = new ConcurrentHashMap<>();
  private final Map<String, RunningPod> pods = new ConcurrentHashMap<>();
  private int nextPod = 2;
  private int nextService = 10;

  private LocalCluster(String name, Path state, ImageTable images) {
    this.name = name;
    this.state = state;
    this.images = images;
    this.api = Api.EMBEDDED;
    AdmittingDispatcher admission =
        new AdmittingDispatcher(ServiceAccountIssuer.inDirectory(state, ControlPlane.ISSUER));
    this.server = embeddedApi(admission);
    this.client = server.createClient();
    this.webhooks = new WebhookCaller(client, hostServices::get);
    admission.callWith(webhooks);
    writeKubeconfig();
    this.net = PodNetwork.create(name);
    try {
      serviceChain(false);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * The embedded API server: fabric8's mock (CRUD) on loopback, answering through {@code admission}
   * (the webhooks, TokenRequest and TokenReview).
   */
  static KubernetesMockServer embeddedApi(AdmittingDispatcher admission) {
    KubernetesMockServer server =
        new KubernetesMockServer(
            new Context(), new MockWebServer(), new HashMap<>(), admission, true);
    server.init(InetAddress.getLoopbackAddress(), 0);
    return server;
  }

  /** The cluster on a real control plane, whose kubelet and kube-proxy this cluster is. */
  private LocalCluster(String name, Path state, ImageTable images, KubeBinaries binaries) {
    this.name = name;
    this.state = state;
    this.images = images;
    this.api = Api.KUBERNETES;
    this.server = null;
    this.webhooks = null;
    this.net = PodNetwork.create(name);
    try {
      Files.createDirectories(state.resolve("pods"));
      controlPlane =
          ControlPlane.start(
              binaries,
              state.resolve("control-plane"),
              net.hub(),
              NODE,
              java.time.Duration.ofSeconds(240));
      // After the control plane has put its address on the hub: the route's source.
      serviceChain(true);
      client = controlPlane.client("admin");
      Files.copy(controlPlane.adminKubeconfig(), kubeconfig());
      Files.setPosixFilePermissions(kubeconfig(), PosixFilePermissions.fromString("rw-------"));
      serviceProxy = new ServiceProxy(controlPlane.client("kube-proxy"), this::applyServices);
      kubelet =
          new Kubelet(
              controlPlane.client("node"),
              NODE,
              ControlPlane.ADDRESS,
              net,
              images,
              state.resolve("pods"),
              kubernetesServiceEnv(),
              pods,
              running -> running.onStatusChange(() -> {}),
              this::writeHosts);
      // The kubelet's API (logs, port-forward, exec) where the API server dials 10.44.0.1:10250,
      // relayed from the hub to this socket; only the API server's client certificate gets in.
      var pki = controlPlane.pki();
      kubeletApi =
          dev.mesh.local.kubelet.server.KubeletServer.start(
              java.net.UnixDomainSocketAddress.of(controlPlane.kubeletSocket()),
              dev.mesh.local.kubelet.server.KubeletServer.Tls.files(
                  pki.file("kubelet-serving.crt"),
                  pki.file("kubelet-serving.key"),
                  pki.file("kubelet-client-ca.crt")),
              new NodePods(pods));
      kubelet.start(ControlPlane.KUBELET_PORT);
    } catch (IOException e) {
      close();
      throw new UncheckedIOException("cannot set up the cluster's state in " + state, e);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * What the kubelet puts in every container's environment for the kubernetes Service (what
   * in-cluster clients such as fabric8's read), as the kubelet's service links do.
   */
  private static Map<String, String> kubernetesServiceEnv() {
    String ip = ControlPlane.KUBERNETES_SERVICE_IP;
    return Map.of(
        "KUBERNETES_SERVICE_HOST",
        ip,
        "KUBERNETES_SERVICE_PORT",
        "443",
        "KUBERNETES_SERVICE_PORT_HTTPS",
        "443",
        "KUBERNETES_PORT",
        "tcp://" + ip + ":443",
        "KUBERNETES_PORT_443_TCP",
        "tcp://" + ip + ":443",
        "KUBERNETES_PORT_443_TCP_PROTO",
        "tcp",
        "KUBERNETES_PORT_443_TCP_PORT",
        "443",
        "KUBERNETES_PORT_443_TCP_ADDR",
        ip);
  }

  /**
   * The hub's NAT chain for cluster IPs, jumped to from PREROUTING (pods' connections) and, with a
   * control plane in the hub, from OUTPUT too: the API server dials webhooks at their Service's
   * cluster IP. Locally made connections need a route to the service range before NAT applies; one
   * end of a veth pair takes what no rule translates (this kernel has no dummy device).
   */
  private void serviceChain(boolean local) {
    var hub = net.hub();
    hub.exec("iptables", "-t", "nat", "-N", ServiceTable.CHAIN).orThrow("service chain");
    hub.exec("iptables", "-t", "nat", "-A", "PREROUTING", "-j", ServiceTable.CHAIN)
        .orThrow("service jump");
    if (local) {
      hub.exec("iptables", "-t", "nat", "-A", "OUTPUT", "-j", ServiceTable.CHAIN)
          .orThrow("service jump for the hub's own connections");
      hub.exec("ip", "link", "add", "services", "type", "veth", "peer", "name", "services-peer")
          .orThrow("the services device");
      hub.exec("ip", "link", "set", "services", "up").orThrow("the services device up");
      hub.exec(
              "ip",
              "route",
              "add",
              ControlPlane.SERVICE_RANGE,
              "dev",
              "services",
              "src",
              ControlPlane.ADDRESS)
          .orThrow("the route to the service range");
    }
  }

  /** The kubeconfig of a local cluster, in its state directory: kubectl and meshctl reach it. */
  public static final String KUBECONFIG = "kubeconfig";

  /**
   * The state directory of the local cluster a kubeconfig belongs to, if it is one: meshctl then
   * reaches pods through their relay sockets instead of the API's port-forward.
   */
  public static java.util.Optional<Path> stateOf(Path kubeconfig) {
    Path dir = kubeconfig.toAbsolutePath().getParent();
    return kubeconfig.getFileName().toString().equals(KUBECONFIG)
            && dir != null
            && Files.isDirectory(dir.resolve("pods"))
        ? java.util.Optional.of(dir)
        : java.util.Optional.empty();
  }

  /** A pod's port-forward socket (see {@link PortRelay}) under a cluster's state directory. */
  public static Path relaySocket(Path state, String namespace, String pod) {
    return PortRelay.socketOf(state.resolve("pods").resolve(namespace + "_" + pod));
  }

  /** Starts a cluster named {@code name} (root needed), its state under a new /tmp directory. */
  public static LocalCluster start(String name, ImageTable images) {
    return start(name, images, Api.EMBEDDED);
  }

  /** Starts a cluster on the given API; the real one needs {@link KubeBinaries#pinned()}. */
  public static LocalCluster start(String name, ImageTable images, Api api) {
    Host.requireRootAndTools();
    try {
      Path state =
          Files.createTempDirectory(
              Path.of("/tmp"), "mesh-" + ProcessHandle.current().pid() + "-" + name + "-");
      Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxr-xr-x"));
      return api == Api.EMBEDDED
          ? new LocalCluster(name, state, images)
          : new LocalCluster(name, state, images, KubeBinaries.pinned());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make the cluster's state directory", e);
    }
  }

  public Api api() {
    return api;
  }

  /** The real control plane (its logs, audit log, PKI), when the cluster runs on one. */
  public java.util.Optional<ControlPlane> controlPlane() {
    return java.util.Optional.ofNullable(controlPlane);
  }

  /** A kubeconfig for this cluster's API (its certificate is not checked: it is made per run). */
  private void writeKubeconfig() {
    try {
      Files.createDirectories(state.resolve("pods"));
      Path file = state.resolve(KUBECONFIG);
      Files.writeString(
          file,
          """
          apiVersion: v1
          kind: Config
          clusters:
          - name: mesh-local
            cluster: {server: "%s", insecure-skip-tls-verify: true}
          users:
          - name: mesh-local
            user: {token: local}
          contexts:
          - name: mesh-local
            context: {cluster: mesh-local, user: mesh-local, namespace: default}
          current-context: mesh-local
          """
              .formatted(apiUrl()));
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the cluster's kubeconfig", e);
    }
  }

  /** This cluster's kubeconfig ({@code KUBECONFIG=... meshctl proxy-config ...}). */
  public Path kubeconfig() {
    return state.resolve(KUBECONFIG);
  }

  public KubernetesClient client() {
    return client;
  }

  public Path state() {
    return state;
  }

  public String apiUrl() {
    return api == Api.EMBEDDED ? client.getMasterUrl().toString() : controlPlane.url();
  }

  /** JVM options that point a fabric8 client in another process at this cluster's API. */
  public List<String> apiSystemProperties() {
    if (api == Api.KUBERNETES) {
      return List.of(
          "-Dkubeconfig=" + kubeconfig(),
          "-Dkubernetes.auth.tryKubeConfig=true",
          "-Dkubernetes.auth.tryServiceAccount=false");
    }
    return List.of(
        "-Dkubernetes.master=" + apiUrl(),
        "-Dkubernetes.trust.certificates=true",
        "-Dkubernetes.auth.tryKubeConfig=false",
        "-Dkubernetes.auth.tryServiceAccount=false");
  }

  /** A service whose backend runs on this machine, outside the pods (pilot, the injector). */
  public void hostService(String namespace, String serviceName, URI base) {
    hostServices.put(namespace + "/" + serviceName, base);
  }

  /**
   * Stores an object, as kubectl apply. On the embedded API a Service gets a cluster IP and its
   * endpoints from the cluster; on the real one the API server and the controllers do that.
   */
  public <T extends HasMetadata> T apply(T object) {
    if (api == Api.KUBERNETES) {
      return client.resource(object).fieldManager("kubectl").forceConflicts().serverSideApply();
    }
    if (object instanceof Service s && s.getSpec() != null && s.getSpec().getClusterIP() == null) {
      s.getSpec().setClusterIP("10.96." + (nextService / 250) + "." + (nextService % 250 + 1));
      nextService++;
    }
    T stored = client.resource(object).createOr(NonDeletingOperation::update);
    if (stored instanceof Service) {
      resync();
    }
    return stored;
  }

  /** Creates a pod as the API server and kubelet would; returns it as stored, once ready. */
  public Pod createPod(Pod pod, int readySeconds) throws IOException, InterruptedException {
    if (api == Api.KUBERNETES) {
      if (pod.getMetadata().getNamespace() == null) {
        pod.getMetadata().setNamespace("default");
      }
      Pod created = client.resource(pod).create();
      return awaitReady(
          created.getMetadata().getNamespace(), created.getMetadata().getName(), readySeconds);
    }
    return createPodEmbedded(pod, readySeconds);
  }

  /**
   * Waits until the API says pod {@code namespace/name} is Ready (the kubelet's status), and
   * returns it as stored.
   */
  public Pod awaitReady(String namespace, String podName, int readySeconds)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(readySeconds);
    while (true) {
      Pod current = client.pods().inNamespace(namespace).withName(podName).get();
      if (current != null
          && current.getStatus() != null
          && current.getStatus().getConditions() != null
          && current.getStatus().getConditions().stream()
              .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()))) {
        LOG.info(
            "pod " + namespace + "/" + podName + " running at " + current.getStatus().getPodIP());
        return current;
      }
      if (System.nanoTime() > deadline) {
        RunningPod running = pods.get(namespace + "/" + podName);
        throw new IllegalStateException(
            "pod "
                + namespace
                + "/"
                + podName
                + " was not ready in "
                + readySeconds
                + " s: "
                + (current == null ? "not in the API" : current.getStatus())
                + (running == null ? "" : " (logs in " + running.dir + ")"));
      }
      Thread.sleep(200); // poll interval, bounded by the deadline
    }
  }

  private synchronized Pod createPodEmbedded(Pod pod, int readySeconds)
      throws IOException, InterruptedException {
    RunningPod running = startPod(pod);
    Pod stored = running.pod;
    String key = key(stored);
    String ip = stored.getStatus().getPodIP();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(readySeconds);
    while (!running.ready()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "pod "
                + key
                + " was not ready in "
                + readySeconds
                + " s (logs in "
                + running.dir
                + ")");
      }
      Thread.sleep(200); // poll interval, bounded by the deadline
    }
    stored.getStatus().setPhase("Running");
    reportStatus(running);
    resync();
    LOG.info("pod " + key + " running at " + ip);
    return stored;
  }

  /**
   * Runs a Job as its controller would, one pod at a time: the Job stored, a pod made from its
   * template (named and labelled as the Job controller names them, owned by the Job) and created
   * through the webhooks; when the pod's containers have all exited, the pod's phase and the Job's
   * status (succeeded or failed, and the Complete or Failed condition) follow their exit codes.
   * With restartPolicy OnFailure a failed container is restarted in place; backoffLimit and
   * parallelism are not applied (one pod, as many restarts as it takes).
   */
  public synchronized Job createJob(Job job) throws IOException, InterruptedException {
    if (job.getMetadata().getNamespace() == null) {
      job.getMetadata().setNamespace("default");
    }
    if (api == Api.KUBERNETES) {
      return client.resource(job).create(); // the Job controller makes its pod
    }
    Job stored = client.resource(job).create();
    String uid =
        stored.getMetadata().getUid() == null
            ? java.util.UUID.randomUUID().toString()
            : stored.getMetadata().getUid();
    String jobName = stored.getMetadata().getName();
    var template = stored.getSpec().getTemplate();
    Pod pod =
        new io.fabric8.kubernetes.api.model.PodBuilder()
            .withMetadata(
                new io.fabric8.kubernetes.api.model.ObjectMetaBuilder(
                        template.getMetadata() == null
                            ? new io.fabric8.kubernetes.api.model.ObjectMeta()
                            : template.getMetadata())
                    .withName(jobName + "-" + Long.toString(System.nanoTime() % 46656, 36))
                    .withNamespace(stored.getMetadata().getNamespace())
                    .addToLabels("batch.kubernetes.io/job-name", jobName)
                    .addToLabels("job-name", jobName)
                    .addToLabels("batch.kubernetes.io/controller-uid", uid)
                    .addToLabels("controller-uid", uid)
                    .addNewOwnerReference()
                    .withApiVersion("batch/v1")
                    .withKind("Job")
                    .withName(jobName)
                    .withUid(uid)
                    .withController(true)
                    .endOwnerReference()
                    .build())
            .withSpec(template.getSpec())
            .build();
    RunningPod running = startPod(pod);
    stored.setStatus(
        new io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder()
            .withActive(1)
            .withStartTime(java.time.Instant.now().toString())
            .build());
    client.resource(stored).updateStatus();
    running
        .completion()
        .thenAccept(exits -> finish(stored, running, exits))
        .exceptionally(
            e -> {
              LOG.warning("job " + key(stored) + ": " + e.getMessage());
              return null;
            });
    LOG.info("job " + key(stored) + " started pod " + running.pod.getMetadata().getName());
    return stored;
  }

  /** The pod's and its Job's status once the pod's containers have exited. */
  private void finish(Job job, RunningPod running, Map<String, Integer> exits) {
    boolean ok = exits.values().stream().allMatch(c -> c == 0);
    Pod pod = running.pod;
    pod.getStatus().setPhase(ok ? "Succeeded" : "Failed");
    reportStatus(running);
    String now = java.time.Instant.now().toString();
    Job current =
        client
            .batch()
            .v1()
            .jobs()
            .inNamespace(job.getMetadata().getNamespace())
            .withName(job.getMetadata().getName())
            .get();
    if (current == null) {
      return;
    }
    current.setStatus(
        new io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder(current.getStatus())
            .withActive(0)
            .withSucceeded(ok ? 1 : 0)
            .withFailed(ok ? 0 : 1)
            .withCompletionTime(ok ? now : null)
            .addNewCondition()
            .withType(ok ? "Complete" : "Failed")
            .withStatus("True")
            .withLastTransitionTime(now)
            .endCondition()
            .build());
    client.resource(current).updateStatus();
    LOG.info("job " + key(job) + (ok ? " complete" : " failed") + ": exit codes " + exits);
  }

  /** The pod's container statuses (restarts, running or terminated) into the API. */
  private void reportStatus(RunningPod running) {
    Pod pod = running.pod;
    synchronized (pod) {
      pod.getStatus().setContainerStatuses(running.statuses());
      pod.getStatus().setInitContainerStatuses(running.initStatuses());
      // The kubelet owns the status: written over whatever version the API holds.
      pod.getMetadata().setResourceVersion(null);
      try {
        client.pods().inNamespace(pod.getMetadata().getNamespace()).resource(pod).updateStatus();
      } catch (RuntimeException e) {
        LOG.fine("pod " + key(pod) + ": status not updated: " + e.getMessage());
      }
    }
  }

  /** What a container of a pod wrote (stdout and stderr), as kubectl logs shows it. */
  /** What the node's kubelet knows of a pod (a real control plane's node), for failure messages. */
  public String nodeView(String namespace, String podName) {
    return kubelet == null ? "(no kubelet)" : kubelet.describe(namespace, podName);
  }

  public String logOf(String namespace, String podName, String container) {
    RunningPod p = pods.get(namespace + "/" + podName);
    if (p == null) {
      throw new IllegalArgumentException("no pod " + namespace + "/" + podName);
    }
    try {
      return Files.readString(p.dir.resolve(container + ".log"));
    } catch (IOException e) {
      return "";
    }
  }

  /** Admits a pod through the webhooks, stores it and starts it; not waiting for readiness. */
  private synchronized RunningPod startPod(Pod pod) throws IOException, InterruptedException {
    if (pod.getMetadata().getNamespace() == null) {
      pod.getMetadata().setNamespace("default");
    }
    Pod admitted = webhooks.admit(pod);
    String ip = "10.44." + (nextPod / 250) + "." + (nextPod % 250 + 1);
    nextPod++;
    admitted.setStatus(
        new PodStatusBuilder().withPodIP(ip).withHostIP("10.44.0.1").withPhase("Pending").build());
    Pod stored = client.resource(admitted).create();
    stored.setStatus(admitted.getStatus());
    String key = key(stored);
    NetworkNamespace ns = net.pod(stored.getMetadata().getName(), ip);
    RunningPod running =
        new RunningPod(
            stored,
            ns,
            state.resolve("pods").resolve(key.replace('/', '_')),
            images,
            Map.of(),
            new dev.mesh.local.cluster.volume.KubernetesVolumeSources(client));
    pods.put(key, running);
    writeHosts();
    running.onStatusChange(() -> reportStatus(running));
    running.start();
    return running;
  }

  /**
   * A running container's process, as the node sees it (for its memory and CPU); empty when the pod
   * or the container is not running.
   */
  public java.util.Optional<ProcessHandle> containerProcess(
      String namespace, String podName, String container) {
    RunningPod p = pods.get(namespace + "/" + podName);
    return p == null ? java.util.Optional.empty() : p.process(container);
  }

  /** The pod's network namespace, for running things inside it. */
  public NetworkNamespace namespaceOf(String namespace, String podName) {
    RunningPod p = pods.get(namespace + "/" + podName);
    if (p == null) {
      throw new IllegalArgumentException("no pod " + namespace + "/" + podName);
    }
    return p.ns;
  }

  /**
   * Deletes a pod. On the embedded API: gone from the endpoints first, then its containers are
   * stopped. On the real one: deleted through the API with its grace period, as kubectl delete;
   * returns once the kubelet has stopped it and it is gone from the API.
   */
  public void deletePod(String namespace, String podName) {
    if (api == Api.KUBERNETES) {
      client.pods().inNamespace(namespace).withName(podName).delete();
      boolean gone =
          dev.mesh.local.Build.eventually(
              () -> client.pods().inNamespace(namespace).withName(podName).get() == null,
              java.time.Duration.ofSeconds(90));
      if (!gone) {
        throw new IllegalStateException(
            "pod " + namespace + "/" + podName + " was still in the API 90 s after its deletion");
      }
      return;
    }
    deletePodEmbedded(namespace, podName);
  }

  private synchronized void deletePodEmbedded(String namespace, String podName) {
    RunningPod p = pods.remove(namespace + "/" + podName);
    if (p == null) {
      return;
    }
    resync();
    client.pods().inNamespace(namespace).withName(podName).delete();
    p.close();
  }

  private static String key(HasMetadata o) {
    return o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
  }

  /**
   * On the embedded API, the endpoint controller's and kube-proxy's part at once: EndpointSlices
   * from the services and the running pods, then the hub's DNAT and the hosts files from them.
   */
  private synchronized void resync() {
    List<Service> services = client.services().inAnyNamespace().list().getItems();
    List<EndpointSlice> slices = new ArrayList<>();
    for (Service s : services) {
      Map<String, String> selector = s.getSpec().getSelector();
      if (selector == null || selector.isEmpty()) {
        continue;
      }
      List<RunningPod> backends = new ArrayList<>();
      for (RunningPod p : pods.values()) {
        Map<String, String> labels =
            p.pod.getMetadata().getLabels() == null ? Map.of() : p.pod.getMetadata().getLabels();
        if (p.pod.getMetadata().getNamespace().equals(s.getMetadata().getNamespace())
            && labels.entrySet().containsAll(selector.entrySet())) {
          backends.add(p);
        }
      }
      backends.sort(Comparator.comparing(RunningPod::name));
      EndpointSliceBuilder slice =
          new EndpointSliceBuilder()
              .withNewMetadata()
              .withName(s.getMetadata().getName() + "-local")
              .withNamespace(s.getMetadata().getNamespace())
              .addToLabels("kubernetes.io/service-name", s.getMetadata().getName())
              .endMetadata()
              .withAddressType("IPv4");
      for (ServicePort port : s.getSpec().getPorts()) {
        int target =
            port.getTargetPort() == null ? port.getPort() : port.getTargetPort().getIntVal();
        slice.addNewPort().withName(port.getName()).withPort(target).withProtocol("TCP").endPort();
      }
      for (RunningPod p : backends) {
        slice
            .addNewEndpoint()
            .withAddresses(p.pod.getStatus().getPodIP())
            .withNewConditions()
            .withReady(true)
            .endConditions()
            .endEndpoint();
      }
      EndpointSlice built = slice.build();
      client.resource(built).createOr(NonDeletingOperation::update);
      slices.add(built);
    }
    applyServices(ServiceTable.of(services, slices));
  }

  private synchronized void applyServices(ServiceTable table) {
    net.hub()
        .execWithInput(table.restore(), "iptables-restore", "--noflush")
        .orThrow("service rules");
    serviceHosts = table.hosts();
    writeHosts();
  }

  private volatile String serviceHosts = "";

  private synchronized void writeHosts() {
    for (RunningPod p : pods.values()) {
      p.ns.writeHosts(
          ServiceTable.hostsFile(
              p.pod.getStatus().getPodIP(),
              p.pod.getMetadata().getName(),
              p.pod.getMetadata().getNamespace(),
              serviceHosts));
    }
  }

  @Override
  public void close() {
    if (kubelet != null) {
      kubelet.close();
    }
    if (kubeletApi != null) {
      kubeletApi.close();
    }
    if (serviceProxy != null) {
      serviceProxy.close();
    }
    // All pods at once, as a node shutting down: each may take its grace period to drain.
    List<Thread> stopping = new ArrayList<>();
    for (String key : List.copyOf(pods.keySet())) {
      RunningPod p = pods.remove(key);
      Thread t = new Thread(p::close, "stop-" + key);
      t.start();
      stopping.add(t);
    }
    for (Thread t : stopping) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (controlPlane != null) {
      controlPlane.close();
    }
    if (net != null) {
      net.close();
    }
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.destroy();
    }
    try (Stream<Path> all = Files.walk(state)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      LOG.warning("cannot remove " + state + ": " + e.getMessage());
    }
  }
}
