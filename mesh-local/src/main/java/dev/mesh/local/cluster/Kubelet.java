package dev.mesh.local.cluster;

import dev.mesh.local.netns.NetworkNamespace;
import dev.mesh.local.netns.PodNetwork;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * The node's kubelet against a real API server, as {@code system:node:<name>}: it registers its
 * Node (Ready) and renews the node's Lease; runs the pods the scheduler binds to it (a {@link
 * RunningPod} each, in its own network namespace with an address of the node's pod range); reports
 * each pod's status (podIP, phase, conditions, container statuses) through the status subresource
 * as it changes; and deletes gracefully in Kubernetes' order: when a pod gets its
 * deletionTimestamp, preStop hooks, SIGTERM, the grace period, SIGKILL, then the pod is removed
 * from the API (the endpoint controller takes it out of its Services meanwhile, racing SIGTERM as
 * in a cluster). A pod that cannot start (a volume's source missing) is retried with a back-off.
 */
final class Kubelet implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Kubelet.class.getName());
  private static final long MAX_RETRY_MS = 30_000;

  private final KubernetesClient client;
  private final String node;
  private final String nodeAddress;
  private final PodNetwork net;
  private final ImageTable images;
  private final Path podsDir;
  private final Map<String, String> nodeEnv;
  private final Map<String, RunningPod> pods;
  private final Consumer<RunningPod> started;
  private final Runnable podsChanged;

  /** What the kubelet keeps about a pod it was given: its uid, status last written, its state. */
  private static final class Tracked {
    final String uid;
    volatile RunningPod running;
    volatile String lastStatus = "";
    volatile boolean terminating;
    volatile boolean gone;
    // A start is queued, running or scheduled to retry; ended: the pod failed for good.
    volatile boolean starting;
    volatile boolean ended;
    String podIp;
    long retryMs = 1000;
    volatile String lastError;

    Tracked(String uid) {
      this.uid = uid;
    }
  }

  private final Map<String, Tracked> tracked = new ConcurrentHashMap<>();
  private final ExecutorService workers =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "kubelet-worker");
            t.setDaemon(true);
            // A pod's work that dies unexpectedly must say so: otherwise the pod stays Pending
            // with nothing in any log.
            t.setUncaughtExceptionHandler(
                (thread, e) -> LOG.severe("kubelet: a pod's work failed: " + e));
            return t;
          });
  private final ScheduledExecutorService loop =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "kubelet-sync");
            t.setDaemon(true);
            return t;
          });
  private SharedIndexInformer<Pod> informer;
  private final java.util.concurrent.atomic.AtomicInteger nextIp =
      new java.util.concurrent.atomic.AtomicInteger(2);
  private volatile boolean closing;

  /**
   * @param pods the running pods by {@code namespace/name}, shared with the cluster (logs, netns)
   * @param started called once a pod's namespace exists and its containers are starting
   * @param podsChanged called when a pod starts or stops (hosts files to write)
   */
  Kubelet(
      KubernetesClient client,
      String node,
      String nodeAddress,
      PodNetwork net,
      ImageTable images,
      Path podsDir,
      Map<String, String> nodeEnv,
      Map<String, RunningPod> pods,
      Consumer<RunningPod> started,
      Runnable podsChanged) {
    this.client = client;
    this.node = node;
    this.nodeAddress = nodeAddress;
    this.net = net;
    this.images = images;
    this.podsDir = podsDir;
    this.nodeEnv = nodeEnv;
    this.pods = pods;
    this.started = started;
    this.podsChanged = podsChanged;
  }

  /** Registers the node and starts watching the pods bound to it. */
  void start(int kubeletPort) {
    register(kubeletPort);
    loop.scheduleWithFixedDelay(this::renewLease, 0, 10, TimeUnit.SECONDS);
    loop.scheduleWithFixedDelay(this::heartbeat, 30, 30, TimeUnit.SECONDS);
    loop.scheduleWithFixedDelay(this::syncStatuses, 500, 500, TimeUnit.MILLISECONDS);
    watchPods();
    loop.scheduleWithFixedDelay(this::housekeeping, 5, 5, TimeUnit.SECONDS);
    LOG.info("kubelet of node " + node + " watching its pods");
  }

  /**
   * The pods bound here, watched. A watch that ends for good (an error fabric8 does not retry) is
   * started again, as a kubelet relists: a node that stops watching leaves new pods Pending.
   */
  private void watchPods() {
    SharedIndexInformer<Pod> watching =
        client
            .pods()
            .inAnyNamespace()
            .withField("spec.nodeName", node)
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    seen(pod);
                  }

                  @Override
                  public void onUpdate(Pod before, Pod pod) {
                    seen(pod);
                  }

                  @Override
                  public void onDelete(Pod pod, boolean finalStateUnknown) {
                    removed(pod);
                  }
                },
                0);
    informer = watching;
    watching
        .stopped()
        .whenComplete(
            (done, e) -> {
              if (closing || informer != watching) {
                return;
              }
              LOG.warning(
                  "kubelet of node "
                      + node
                      + ": the watch of its pods ended ("
                      + (e == null ? "closed" : e.getMessage())
                      + "); watching again");
              loop.schedule(this::rewatch, 1, TimeUnit.SECONDS);
            });
  }

  private void rewatch() {
    if (closing) {
      return;
    }
    try {
      watchPods();
    } catch (KubernetesClientException e) {
      LOG.warning("kubelet of node " + node + ": cannot watch its pods (" + e.getMessage() + ")");
      loop.schedule(this::rewatch, 5, TimeUnit.SECONDS);
    }
  }

  /**
   * What the watch delivered and this node has not acted on: a pod bound here and neither running
   * nor starting is started (the kubelet's periodic sync, which relies neither on every event
   * having arrived nor on every start having ended in a retry).
   */
  private void housekeeping() {
    SharedIndexInformer<Pod> watching = informer;
    if (closing || watching == null) {
      return;
    }
    try {
      for (Pod pod : watching.getStore().list()) {
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        boolean ended = "Succeeded".equals(phase) || "Failed".equals(phase);
        if (ended) {
          continue;
        }
        Tracked t = tracked.get(key(pod));
        if (t == null) {
          LOG.info("kubelet: pod " + key(pod) + " bound here was not started yet; starting it");
          seen(pod);
        } else if (t.running == null
            && !t.starting
            && !t.terminating
            && !t.ended
            && t.uid.equals(pod.getMetadata().getUid())) {
          LOG.info("kubelet: pod " + key(pod) + " is neither running nor starting; starting it");
          t.starting = true;
          workers.execute(() -> startPod(key(pod), t, pod));
        }
      }
    } catch (RuntimeException e) {
      LOG.warning("kubelet of node " + node + ": housekeeping failed: " + e);
    }
  }

  private void register(int kubeletPort) {
    Node n =
        new NodeBuilder()
            .withNewMetadata()
            .withName(node)
            .addToLabels("kubernetes.io/hostname", node)
            .addToLabels("kubernetes.io/os", "linux")
            .addToLabels("kubernetes.io/arch", "amd64")
            .endMetadata()
            .build();
    if (client.nodes().withName(node).get() == null) {
      client.nodes().resource(n).create();
    }
    int cpus = Runtime.getRuntime().availableProcessors();
    Map<String, Quantity> capacity =
        Map.of(
            "cpu", new Quantity(Integer.toString(Math.max(cpus, 8))),
            "memory", new Quantity("32Gi"),
            "pods", new Quantity("110"),
            "ephemeral-storage", new Quantity("50Gi"));
    var status =
        new io.fabric8.kubernetes.api.model.NodeStatusBuilder()
            .withCapacity(capacity)
            .withAllocatable(capacity)
            .withConditions(conditions())
            .addNewAddress()
            .withType("InternalIP")
            .withAddress(nodeAddress)
            .endAddress()
            .addNewAddress()
            .withType("Hostname")
            .withAddress(node)
            .endAddress()
            .withNewDaemonEndpoints()
            .withNewKubeletEndpoint()
            .withPort(kubeletPort)
            .endKubeletEndpoint()
            .endDaemonEndpoints()
            .withNewNodeInfo()
            .withArchitecture("amd64")
            .withOperatingSystem("linux")
            .withOsImage("mesh local node")
            .withKernelVersion(System.getProperty("os.version"))
            .withContainerRuntimeVersion("mesh-local://0.1.0")
            .withKubeletVersion(dev.mesh.local.kube.KubeBinaries.pinned().kubernetesVersion())
            .withKubeProxyVersion("")
            .withMachineID("")
            .withSystemUUID("")
            .withBootID("")
            .endNodeInfo()
            .build();
    // A patch of the status alone: the node lifecycle controller may have tainted the node
    // meanwhile, and NodeRestriction forbids a node to write its taints back.
    editNodeStatus(
        current -> {
          current.setStatus(status);
          return current;
        });
    LOG.info("node " + node + " registered, Ready, kubelet at " + nodeAddress + ":" + kubeletPort);
  }

  private static List<NodeCondition> conditions() {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    List<NodeCondition> out = new ArrayList<>();
    for (String[] c :
        new String[][] {
          {"MemoryPressure", "False", "KubeletHasSufficientMemory"},
          {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
          {"PIDPressure", "False", "KubeletHasSufficientPID"},
          {"Ready", "True", "KubeletReady"}
        }) {
      out.add(
          new NodeConditionBuilder()
              .withType(c[0])
              .withStatus(c[1])
              .withReason(c[2])
              .withLastHeartbeatTime(now)
              .withLastTransitionTime(now)
              .build());
    }
    return out;
  }

  /**
   * A patch of the node's status from its latest version, again on a conflict: the node lifecycle
   * controller writes the same Node (its taints) at any moment.
   */
  private void editNodeStatus(java.util.function.UnaryOperator<Node> change) {
    for (int attempt = 1; ; attempt++) {
      try {
        client.nodes().withName(node).editStatus(change);
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 || attempt == 5) {
          throw e;
        }
      }
    }
  }

  /** The node's Lease in kube-node-lease, renewed every 10 s: the node lifecycle's heartbeat. */
  private void renewLease() {
    try {
      java.time.ZonedDateTime now =
          java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC).truncatedTo(ChronoUnit.MICROS);
      Lease lease =
          new LeaseBuilder()
              .withNewMetadata()
              .withName(node)
              .withNamespace("kube-node-lease")
              .endMetadata()
              .withNewSpec()
              .withHolderIdentity(node)
              .withLeaseDurationSeconds(40)
              .withRenewTime(now)
              .endSpec()
              .build();
      client.resource(lease).createOr(NonDeletingOperation::update);
    } catch (KubernetesClientException e) {
      LOG.fine("node " + node + ": lease not renewed: " + e.getMessage());
    }
  }

  private void heartbeat() {
    try {
      String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
      editNodeStatus(
          n -> {
            if (n.getStatus() != null) {
              n.getStatus().getConditions().forEach(c -> c.setLastHeartbeatTime(now));
            }
            return n;
          });
    } catch (KubernetesClientException e) {
      LOG.fine("node " + node + ": status not updated: " + e.getMessage());
    }
  }

  private static String key(Pod p) {
    return p.getMetadata().getNamespace() + "/" + p.getMetadata().getName();
  }

  /** An added or updated pod bound here: started if new, stopped if it is being deleted. */
  private synchronized void seen(Pod pod) {
    if (closing) {
      return;
    }
    String key = key(pod);
    Tracked t = tracked.get(key);
    if (t != null && !t.uid.equals(pod.getMetadata().getUid())) {
      // A new pod of the same name: the old one is gone as far as the API is concerned.
      stopNow(key, t);
      t = null;
    }
    if (t == null) {
      String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
      if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
        if (pod.getMetadata().getDeletionTimestamp() != null) {
          workers.execute(() -> finalDelete(pod));
        }
        return;
      }
      Tracked fresh = new Tracked(pod.getMetadata().getUid());
      tracked.put(key, fresh);
      if (pod.getMetadata().getDeletionTimestamp() != null) {
        fresh.terminating = true;
        workers.execute(() -> finalDelete(pod));
        return;
      }
      fresh.starting = true;
      workers.execute(() -> startPod(key, fresh, pod));
      return;
    }
    if (pod.getMetadata().getDeletionTimestamp() != null && !t.terminating) {
      t.terminating = true;
      Tracked stopping = t;
      long grace =
          pod.getMetadata().getDeletionGracePeriodSeconds() == null
              ? 30
              : pod.getMetadata().getDeletionGracePeriodSeconds();
      workers.execute(() -> terminate(key, stopping, pod, grace));
    }
  }

  /** The pod is gone from the API (its final delete, or forced): what still runs is stopped. */
  private synchronized void removed(Pod pod) {
    String key = key(pod);
    Tracked t = tracked.get(key);
    if (t != null && t.uid.equals(pod.getMetadata().getUid())) {
      t.gone = true;
      if (!t.terminating) {
        t.terminating = true;
        workers.execute(() -> stopNow(key, t));
      }
    }
  }

  private String allocateIp() {
    int n = nextIp.getAndIncrement();
    return "10.44." + (n / 250) + "." + (n % 250 + 1);
  }

  /**
   * Starts the pod, and clears {@code starting} unless a retry is scheduled; whatever ends a start
   * (an Error included) leaves the pod to the next housekeeping pass rather than Pending for good.
   */
  private void startPod(String key, Tracked t, Pod pod) {
    boolean retrying = false;
    try {
      retrying = tryStart(key, t, pod);
    } finally {
      if (!retrying) {
        t.starting = false;
      }
    }
  }

  /** The pod's sandbox (namespace, address) and containers; true when a retry is scheduled. */
  private boolean tryStart(String key, Tracked t, Pod pod) {
    if (t.terminating || closing) {
      return false;
    }
    if (t.podIp == null) {
      t.podIp = allocateIp();
    }
    pod.setStatus(
        new io.fabric8.kubernetes.api.model.PodStatusBuilder(
                pod.getStatus() == null ? new PodStatus() : pod.getStatus())
            .withPhase("Pending")
            .withHostIP(nodeAddress)
            .withHostIPs(new io.fabric8.kubernetes.api.model.HostIP(nodeAddress))
            .withPodIP(t.podIp)
            .withPodIPs(new PodIP(t.podIp))
            .withStartTime(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString())
            .build());
    RunningPod running = null;
    try {
      String nsName = namespaceName(pod, t.podIp);
      NetworkNamespace ns = net.pod(nsName, t.podIp);
      running =
          new RunningPod(
              pod,
              ns,
              podsDir.resolve(key.replace('/', '_')),
              images,
              nodeEnv,
              new dev.mesh.local.cluster.volume.KubernetesVolumeSources(client));
      t.running = running;
      pods.put(key, running);
      started.accept(running);
      podsChanged.run();
      writeStatus(key, t);
      running.start();
      t.retryMs = 1000;
      LOG.info("pod " + key + " started at " + t.podIp);
    } catch (RuntimeException | java.io.IOException e) {
      String why = e.getMessage() == null ? e.toString() : e.getMessage();
      boolean never = "Never".equals(pod.getSpec().getRestartPolicy());
      if (running != null) {
        pods.remove(key);
        t.running = null;
        running.close();
        podsChanged.run();
      }
      if (never && e instanceof RunningPod.InitContainerFailed) {
        LOG.info("pod " + key + " failed: " + why);
        t.ended = true;
        failed(key, pod, why);
        return false;
      }
      long wait = t.retryMs;
      t.retryMs = Math.min(MAX_RETRY_MS, t.retryMs * 2);
      t.lastError = why;
      LOG.info("pod " + key + " did not start (" + why + "); retrying in " + wait + " ms");
      if (!closing) {
        loop.schedule(
            () -> workers.execute(() -> startPod(key, t, pod)), wait, TimeUnit.MILLISECONDS);
        return true;
      }
    } catch (InterruptedException e) {
      // Only the node shutting down interrupts its workers.
      LOG.info("pod " + key + " not started: the node is stopping");
      Thread.currentThread().interrupt();
    }
    return false;
  }

  /** What this node knows of a pod, for a failure's message: tracked, starting, its last error. */
  String describe(String namespace, String name) {
    Tracked t = tracked.get(namespace + "/" + name);
    if (t == null) {
      return "not seen by the node";
    }
    return (t.running != null ? "running" : "not running")
        + (t.starting ? ", starting" : "")
        + (t.terminating ? ", terminating" : "")
        + (t.ended ? ", ended" : "")
        + (t.lastError != null ? ", last start error: " + t.lastError : "");
  }

  /** The network namespace's short name: the pod's name, cut to fit, made unique by its IP. */
  private static String namespaceName(Pod pod, String ip) {
    String name = pod.getMetadata().getName();
    String suffix = "-" + ip.substring(ip.indexOf('.', 3) + 1).replace('.', '-');
    return (name.length() > 30 ? name.substring(0, 30) : name) + suffix;
  }

  private void failed(String key, Pod pod, String why) {
    try {
      Pod current =
          client
              .pods()
              .inNamespace(pod.getMetadata().getNamespace())
              .withName(pod.getMetadata().getName())
              .get();
      if (current == null) {
        return;
      }
      current.getStatus().setPhase("Failed");
      current.getStatus().setReason("InitContainerFailed");
      current.getStatus().setMessage(why);
      client.resource(current).updateStatus();
    } catch (KubernetesClientException e) {
      LOG.fine("pod " + key + ": status not updated: " + e.getMessage());
    }
  }

  /**
   * Kubernetes' graceful deletion: preStop, SIGTERM, the grace period, SIGKILL (RunningPod's
   * close), the final status, then the pod removed from the API with grace period 0.
   */
  private void terminate(String key, Tracked t, Pod pod, long grace) {
    RunningPod running = t.running;
    LOG.info("pod " + key + " deleting: grace period " + grace + " s");
    if (running != null) {
      running.graceSeconds(grace);
      running.close();
      pods.remove(key);
      podsChanged.run();
    }
    finalDelete(pod);
    tracked.remove(key, t);
  }

  private void finalDelete(Pod pod) {
    try {
      client
          .pods()
          .inNamespace(pod.getMetadata().getNamespace())
          .withName(pod.getMetadata().getName())
          .withGracePeriod(0)
          .delete();
      LOG.info("pod " + key(pod) + " deleted");
    } catch (KubernetesClientException e) {
      LOG.info("pod " + key(pod) + ": final delete refused: " + e.getMessage());
    }
  }

  private void stopNow(String key, Tracked t) {
    t.terminating = true;
    RunningPod running = t.running;
    if (running != null) {
      running.graceSeconds(0);
      running.close();
      pods.remove(key, running);
      podsChanged.run();
    }
    tracked.remove(key, t);
  }

  /** Each running pod's status, written when it differs from what was last written. */
  private void syncStatuses() {
    for (Map.Entry<String, Tracked> e : tracked.entrySet()) {
      Tracked t = e.getValue();
      if (t.running != null && !t.terminating && !t.gone) {
        try {
          writeStatus(e.getKey(), t);
        } catch (RuntimeException ex) {
          LOG.fine("pod " + e.getKey() + ": status not written: " + ex.getMessage());
        }
      }
    }
  }

  private void writeStatus(String key, Tracked t) {
    RunningPod running = t.running;
    if (running == null) {
      return;
    }
    PodStatus status = status(running);
    String fingerprint = fingerprint(status);
    if (fingerprint.equals(t.lastStatus)) {
      return;
    }
    Pod current = informer == null ? null : informer.getStore().getByKey(key);
    if (current == null) {
      current =
          client
              .pods()
              .inNamespace(running.pod.getMetadata().getNamespace())
              .withName(running.pod.getMetadata().getName())
              .get();
    }
    if (current == null || !Objects.equals(current.getMetadata().getUid(), t.uid)) {
      return;
    }
    status.setQosClass(current.getStatus() == null ? null : current.getStatus().getQosClass());
    status.setStartTime(running.pod.getStatus().getStartTime());
    current.setStatus(status);
    try {
      client.resource(current).updateStatus();
      t.lastStatus = fingerprint;
      boolean finished = running.finished();
      if (finished) {
        LOG.info("pod " + key + " " + status.getPhase());
      }
    } catch (KubernetesClientException e) {
      // A conflict: the next pass writes over the newer version.
      LOG.fine("pod " + key + ": status conflict: " + e.getMessage());
    }
  }

  /** The status a kubelet reports for a running pod. */
  private PodStatus status(RunningPod running) {
    List<ContainerStatus> containers = running.statuses();
    List<ContainerStatus> inits = running.initStatuses();
    boolean initialized =
        running.pod.getSpec().getInitContainers().stream()
            .allMatch(
                c ->
                    inits.stream()
                        .anyMatch(
                            s ->
                                s.getName().equals(c.getName())
                                    && (Boolean.TRUE.equals(s.getStarted())
                                        || s.getState().getTerminated() != null
                                            && s.getState().getTerminated().getExitCode() == 0)));
    boolean allReady =
        !containers.isEmpty()
            && containers.stream().allMatch(s -> Boolean.TRUE.equals(s.getReady()))
            && inits.stream()
                .filter(s -> s.getState().getRunning() != null)
                .allMatch(s -> Boolean.TRUE.equals(s.getReady()));
    boolean anyRunning = containers.stream().anyMatch(s -> s.getState().getRunning() != null);
    String phase;
    if (running.finished()) {
      boolean ok =
          containers.stream()
              .allMatch(
                  s ->
                      s.getState().getTerminated() != null
                          && s.getState().getTerminated().getExitCode() == 0);
      phase = ok ? "Succeeded" : "Failed";
      allReady = false;
    } else {
      phase = anyRunning ? "Running" : "Pending";
    }
    String podIp = running.pod.getStatus().getPodIP();
    return new io.fabric8.kubernetes.api.model.PodStatusBuilder()
        .withPhase(phase)
        .withHostIP(nodeAddress)
        .withHostIPs(new io.fabric8.kubernetes.api.model.HostIP(nodeAddress))
        .withPodIP(podIp)
        .withPodIPs(new PodIP(podIp))
        .withConditions(
            condition("PodReadyToStartContainers", true),
            condition("Initialized", initialized),
            condition("Ready", allReady),
            condition("ContainersReady", allReady),
            condition("PodScheduled", true))
        .withContainerStatuses(containers)
        .withInitContainerStatuses(inits)
        .build();
  }

  private static PodCondition condition(String type, boolean value) {
    return new PodConditionBuilder()
        .withType(type)
        .withStatus(value ? "True" : "False")
        .withLastTransitionTime(Instant.now().truncatedTo(ChronoUnit.SECONDS).toString())
        .build();
  }

  /** What of a status matters for writing it again (not the transition times). */
  private static String fingerprint(PodStatus s) {
    StringBuilder b = new StringBuilder(s.getPhase()).append('|');
    s.getConditions().forEach(c -> b.append(c.getType()).append('=').append(c.getStatus()));
    for (List<ContainerStatus> list :
        List.of(s.getContainerStatuses(), s.getInitContainerStatuses())) {
      for (ContainerStatus c : list) {
        b.append('|')
            .append(c.getName())
            .append(c.getReady())
            .append(c.getStarted())
            .append(c.getRestartCount())
            .append(c.getState().getRunning() != null ? "R" : "")
            .append(
                c.getState().getTerminated() != null
                    ? "T" + c.getState().getTerminated().getExitCode()
                    : "")
            .append(c.getState().getWaiting() != null ? "W" : "");
      }
    }
    return b.toString();
  }

  /** Stops watching and stops every pod at once, as a node shutting down. */
  @Override
  public void close() {
    closing = true;
    if (informer != null) {
      informer.close();
    }
    loop.shutdownNow();
    List<Thread> stopping = new ArrayList<>();
    for (Map.Entry<String, Tracked> e : tracked.entrySet()) {
      RunningPod r = e.getValue().running;
      if (r != null) {
        Thread t = new Thread(r::close, "stop-" + e.getKey());
        t.start();
        stopping.add(t);
      }
    }
    for (Thread t : stopping) {
      try {
        t.join();
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
    }
    workers.shutdownNow();
    pods.clear();
  }
}
