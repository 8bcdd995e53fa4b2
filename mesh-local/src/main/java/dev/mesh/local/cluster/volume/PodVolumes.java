package dev.mesh.local.cluster.volume;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceAccountTokenProjection;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeProjection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * A pod's volumes as the kubelet makes them: each under the pod's directory ({@code
 * volumes/kubernetes.io~<plugin>/<name>}, only root may walk there), emptyDirs shared by its
 * containers, configMap, secret, downwardAPI and projected volumes written with the atomic writer
 * and kept up to date (re-read at each resync; service-account tokens renewed at 80% of their
 * life), owned as fsGroup and KEP-2451 say. Each container sees its volumeMounts at their mountPath
 * through bind mounts made in its own mount namespace (the one {@code ip netns exec} makes for
 * every process it starts, whose mounts never reach the host): {@link #wrap} puts them before the
 * container's command.
 */
public final class PodVolumes implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(PodVolumes.class.getName());

  /**
   * How often ConfigMaps and Secrets are read again, as the kubelet's sync period (60 s; the system
   * property {@value #RESYNC_PROPERTY} sets it in seconds, as --sync-frequency would).
   */
  public static final String RESYNC_PROPERTY = "mesh.volumes.resyncSeconds";

  /** The default token lifetime of the API (a projection that sets none). */
  private static final long TOKEN_SECONDS = 3600;

  private static final ScheduledExecutorService SYNC =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "pod-volumes");
            t.setDaemon(true);
            return t;
          });

  /** One of the pod's volumes: where its files are, and the writer of those that have one. */
  private record Made(Volume spec, Path dir, AtomicWriter writer, boolean readOnly) {}

  private final Pod pod;
  private final Path root;
  private final VolumeSources sources;
  private final Long fsGroup;
  private final Long fsUser;
  private final Map<String, Made> volumes = new LinkedHashMap<>();
  private final Map<String, VolumeSources.Token> tokens = new LinkedHashMap<>();
  private final Set<String> tokenless = new HashSet<>();
  private MountPoints.Lease lease;
  private ScheduledFuture<?> resync;

  private PodVolumes(Pod pod, Path podDir, VolumeSources sources) {
    this.pod = pod;
    this.root = podDir.resolve("volumes");
    this.sources = sources;
    var sc = pod.getSpec().getSecurityContext();
    this.fsGroup = sc == null ? null : sc.getFsGroup();
    this.fsUser = fsUser(pod);
  }

  /** Sets up the pod's volumes and their mount points, then keeps them in sync. */
  public static PodVolumes setUp(Pod pod, Path podDir, VolumeSources sources) {
    return setUp(
        pod,
        podDir,
        sources,
        Duration.ofSeconds(Math.max(1, Long.getLong(RESYNC_PROPERTY, 60))),
        MountPoints.host());
  }

  /**
   * Sets up the volumes (failing, with nothing left behind, when a source that is not optional is
   * missing), makes the mount points the containers need, and schedules the resyncs.
   */
  public static PodVolumes setUp(
      Pod pod, Path podDir, VolumeSources sources, Duration resync, MountPoints mountPoints) {
    PodVolumes v = new PodVolumes(pod, podDir, sources);
    try {
      v.make();
      v.lease = mountPoints.acquire(v.name(), v.hostMountPoints());
    } catch (RuntimeException e) {
      v.close();
      throw e;
    }
    long ms = resync.toMillis();
    v.resync = SYNC.scheduleWithFixedDelay(v::resyncQuietly, ms, ms, TimeUnit.MILLISECONDS);
    return v;
  }

  /** Where a volume's files are on the host (root's only). */
  public Path dir(String volume) {
    Made m = volumes.get(volume);
    if (m == null) {
      throw new IllegalArgumentException("pod " + name() + " has no volume " + volume);
    }
    return m.dir();
  }

  /**
   * The command that mounts the container's volumes in its mount namespace (as root, before the
   * user switch that {@code command} starts with), then execs {@code command}; {@code command} as
   * it is when the container mounts nothing.
   */
  public List<String> wrap(Container c, List<String> command) {
    List<Mount> mounts = mounts(c);
    if (mounts.isEmpty()) {
      return command;
    }
    StringBuilder script = new StringBuilder("set -e\n");
    List<Path> targets = new ArrayList<>();
    for (Mount m : mounts) {
      String target = quote(m.target().toString());
      if (m.nested()) {
        // Inside another of its volumes: made there, as the kubelet's nested mount points.
        script.append(
            m.file()
                ? "[ -e " + target + " ] || : > " + target + "\n"
                : "mkdir -p " + target + "\n");
      }
      script
          .append("mount ")
          .append(m.recursive() ? "--rbind " : "--bind ")
          .append(quote(m.source().toString()))
          .append(' ')
          .append(target)
          .append('\n');
      if (m.readOnly()) {
        targets.add(m.target());
      }
    }
    // Read-only last: a nested mount point may first have to be made in a read-only volume.
    for (Path t : targets) {
      script.append("mount -o remount,bind,ro ").append(quote(t.toString())).append('\n');
    }
    script.append("exec \"$@\"\n");
    List<String> out = new ArrayList<>(List.of("sh", "-c", script.toString(), "volumes"));
    out.addAll(command);
    return out;
  }

  /**
   * The groups a container's process has besides its own, as the kubelet gives them: the pod's
   * fsGroup (so that it reads what it owns) and supplementalGroups.
   */
  public static List<Long> groups(Pod pod) {
    var sc = pod.getSpec().getSecurityContext();
    List<Long> out = new ArrayList<>();
    if (sc != null && sc.getFsGroup() != null) {
      out.add(sc.getFsGroup());
    }
    if (sc != null && sc.getSupplementalGroups() != null) {
      sc.getSupplementalGroups().stream().filter(g -> !out.contains(g)).forEach(out::add);
    }
    return out;
  }

  /**
   * KEP-2451's FsUser: the runAsUser every container (init ones included) runs as, if they all set
   * the same one (in their own securityContext or the pod's); else null.
   */
  static Long fsUser(Pod pod) {
    var podSc = pod.getSpec().getSecurityContext();
    Long user = null;
    for (Container c :
        Stream.concat(
                pod.getSpec().getInitContainers().stream(), pod.getSpec().getContainers().stream())
            .toList()) {
      Long u = c.getSecurityContext() == null ? null : c.getSecurityContext().getRunAsUser();
      if (u == null && podSc != null) {
        u = podSc.getRunAsUser();
      }
      if (u == null || (user != null && !user.equals(u))) {
        return null;
      }
      user = u;
    }
    return user;
  }

  /** Reads the sources again and swaps in what changed (a renewed token, an updated ConfigMap). */
  public synchronized void resync() throws IOException {
    for (Made m : volumes.values()) {
      if (m.writer() != null && m.writer().write(payload(m.spec()))) {
        LOG.info("pod " + name() + ": volume " + m.spec().getName() + " updated");
      }
    }
  }

  private void resyncQuietly() {
    try {
      resync();
    } catch (IOException | RuntimeException e) {
      LOG.warning("pod " + name() + ": volumes not resynced: " + e.getMessage());
    }
  }

  private synchronized void make() {
    try {
      Files.createDirectories(root);
      // The host's other users must not read what is meant for the pod (tokens, secrets): the
      // containers reach their volumes through their mounts, never through this path.
      Files.setAttribute(root, "unix:mode", 0700);
      for (Volume v : pod.getSpec().getVolumes()) {
        makeVolume(v);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("pod " + name() + ": volumes in " + root + ": " + e, e);
    }
  }

  private void makeVolume(Volume v) throws IOException {
    String plugin;
    boolean written = true;
    if (v.getEmptyDir() != null) {
      plugin = "empty-dir";
      written = false;
    } else if (v.getConfigMap() != null) {
      plugin = "configmap";
    } else if (v.getSecret() != null) {
      plugin = "secret";
    } else if (v.getDownwardAPI() != null) {
      plugin = "downward-api";
    } else if (v.getProjected() != null) {
      plugin = "projected";
    } else if (v.getHostPath() != null) {
      volumes.put(v.getName(), new Made(v, hostPath(v), null, false));
      return;
    } else {
      throw new IllegalStateException(
          "pod " + name() + ": volume " + v.getName() + " is of a kind the local cluster lacks");
    }
    Path dir = root.resolve("kubernetes.io~" + plugin).resolve(v.getName());
    Files.createDirectories(dir);
    if (!written) {
      // emptyDir (medium Memory too: a plain directory, shared as any other) is everyone's.
      Files.setAttribute(dir, "unix:mode", 0777);
      if (fsGroup != null) {
        VolumeOwnership.apply(dir, fsGroup, false);
      }
      volumes.put(v.getName(), new Made(v, dir, null, false));
      return;
    }
    Files.setAttribute(dir, "unix:mode", 0755);
    // These are read-only to every container, whatever its volumeMount says.
    AtomicWriter writer = new AtomicWriter(dir, fsGroup, true);
    volumes.put(v.getName(), new Made(v, dir, writer, true));
    writer.write(payload(v));
  }

  private Path hostPath(Volume v) throws IOException {
    var hp = v.getHostPath();
    Path p = Path.of(hp.getPath());
    String type = hp.getType() == null ? "" : hp.getType();
    switch (type) {
      case "DirectoryOrCreate" -> {
        if (!Files.exists(p)) {
          Files.createDirectories(p);
          Files.setAttribute(p, "unix:mode", 0755);
        }
      }
      case "FileOrCreate" -> {
        if (!Files.exists(p)) {
          Files.createDirectories(p.getParent());
          Files.createFile(p);
        }
      }
      case "Directory", "File", "Socket", "CharDevice", "BlockDevice" -> {
        if (!Files.exists(p)) {
          throw new IllegalStateException(
              "pod " + name() + ": volume " + v.getName() + ": hostPath " + p + " does not exist");
        }
      }
      default -> {
        // "": no check, as the kubelet
      }
    }
    return p;
  }

  /** A volume's files now, from its source (and the API for configMaps, secrets and tokens). */
  private Map<String, FileProjection> payload(Volume v) {
    String what = "pod " + name() + ": volume " + v.getName();
    String ns = pod.getMetadata().getNamespace();
    if (v.getConfigMap() != null) {
      var s = v.getConfigMap();
      boolean optional = Boolean.TRUE.equals(s.getOptional());
      var cm = sources.configMap(ns, s.getName());
      if (cm.isEmpty() && !optional) {
        throw new IllegalStateException(
            what + ": configmap " + ns + "/" + s.getName() + " not found");
      }
      return Projections.configMap(
          cm.orElse(null), s.getItems(), mode(s.getDefaultMode()), optional, what);
    }
    if (v.getSecret() != null) {
      var s = v.getSecret();
      boolean optional = Boolean.TRUE.equals(s.getOptional());
      var secret = sources.secret(ns, s.getSecretName());
      if (secret.isEmpty() && !optional) {
        throw new IllegalStateException(
            what + ": secret " + ns + "/" + s.getSecretName() + " not found");
      }
      return Projections.secret(
          secret.orElse(null), s.getItems(), mode(s.getDefaultMode()), optional, what);
    }
    if (v.getDownwardAPI() != null) {
      return Projections.downwardApi(
          pod, v.getDownwardAPI().getItems(), mode(v.getDownwardAPI().getDefaultMode()), what);
    }
    var projected = v.getProjected();
    int defaultMode = mode(projected.getDefaultMode());
    Map<String, FileProjection> out = new TreeMap<>();
    List<String> errors = new ArrayList<>();
    for (VolumeProjection source : projected.getSources()) {
      try {
        out.putAll(projection(v, source, defaultMode, what));
      } catch (RuntimeException e) {
        errors.add(e.getMessage());
      }
    }
    if (!errors.isEmpty()) {
      throw new IllegalStateException(String.join("; ", errors));
    }
    return out;
  }

  private Map<String, FileProjection> projection(
      Volume v, VolumeProjection source, int defaultMode, String what) {
    String ns = pod.getMetadata().getNamespace();
    if (source.getConfigMap() != null) {
      var s = source.getConfigMap();
      boolean optional = Boolean.TRUE.equals(s.getOptional());
      var cm = sources.configMap(ns, s.getName());
      if (cm.isEmpty() && !optional) {
        throw new IllegalStateException(
            what + ": configmap " + ns + "/" + s.getName() + " not found");
      }
      return Projections.configMap(cm.orElse(null), s.getItems(), defaultMode, optional, what);
    }
    if (source.getSecret() != null) {
      var s = source.getSecret();
      boolean optional = Boolean.TRUE.equals(s.getOptional());
      var secret = sources.secret(ns, s.getName());
      if (secret.isEmpty() && !optional) {
        throw new IllegalStateException(what + ": secret " + ns + "/" + s.getName() + " not found");
      }
      return Projections.secret(secret.orElse(null), s.getItems(), defaultMode, optional, what);
    }
    if (source.getDownwardAPI() != null) {
      return Projections.downwardApi(pod, source.getDownwardAPI().getItems(), defaultMode, what);
    }
    if (source.getServiceAccountToken() != null) {
      return token(v, source.getServiceAccountToken(), defaultMode, what);
    }
    return Map.of(); // clusterTrustBundle, podCertificate: not served here
  }

  /**
   * The token file: the projection's defaultMode, or 0600 owned by the pods' common runAsUser when
   * there is one or an fsGroup (which then makes it 0640, group fsGroup), as KEP-2451.
   */
  private Map<String, FileProjection> token(
      Volume v, ServiceAccountTokenProjection t, int defaultMode, String what) {
    long seconds = t.getExpirationSeconds() == null ? TOKEN_SECONDS : t.getExpirationSeconds();
    String key = t.getAudience() + "|" + seconds;
    VolumeSources.Token token = tokens.get(key);
    String source = v.getName() + "|" + t.getPath();
    if (tokenless.contains(source)) {
      return Map.of(); // asked once: this API has no TokenRequest
    }
    if (token == null || token.needsRefresh(Instant.now())) {
      var fresh = sources.token(pod, t.getAudience(), seconds);
      if (fresh.isEmpty()) {
        tokenless.add(source);
        LOG.info(what + ": the API serves no TokenRequest; " + t.getPath() + " left out");
        return Map.of();
      }
      token = fresh.get();
      tokens.put(key, token);
    }
    int mode = fsUser != null || fsGroup != null ? 0600 : defaultMode;
    return Map.of(
        t.getPath(),
        new FileProjection(
            token.token().getBytes(java.nio.charset.StandardCharsets.UTF_8), mode, fsUser));
  }

  private static int mode(Integer m) {
    return m == null ? Projections.DEFAULT_MODE : m;
  }

  /** One volumeMount of a container, resolved. */
  private record Mount(
      Path source,
      Path target,
      boolean readOnly,
      boolean file,
      boolean nested,
      boolean recursive) {}

  /** The container's mounts, parents before what they hold. */
  private List<Mount> mounts(Container c) {
    List<VolumeMount> specs = new ArrayList<>(c.getVolumeMounts());
    specs.sort(Comparator.comparingInt(m -> Path.of(m.getMountPath()).normalize().getNameCount()));
    List<Mount> out = new ArrayList<>();
    for (VolumeMount vm : specs) {
      Made m = volumes.get(vm.getName());
      if (m == null) {
        throw new IllegalStateException(
            "pod "
                + name()
                + ": container "
                + c.getName()
                + " mounts volume "
                + vm.getName()
                + ", which the pod does not have");
      }
      Path source = m.dir();
      if (vm.getSubPath() != null && !vm.getSubPath().isEmpty()) {
        source = subPath(m, vm.getSubPath());
      }
      Path target;
      try {
        target = MountPoints.resolve(Path.of(vm.getMountPath()));
      } catch (IOException e) {
        throw new UncheckedIOException("mount path " + vm.getMountPath(), e);
      }
      Path t = target;
      boolean nested =
          out.stream().anyMatch(o -> t.startsWith(o.target()) && !t.equals(o.target()));
      out.add(
          new Mount(
              source,
              target,
              m.readOnly() || Boolean.TRUE.equals(vm.getReadOnly()),
              Files.isRegularFile(source),
              nested,
              m.spec().getHostPath() != null));
    }
    return out;
  }

  /** A subPath of a volume, made when missing (a directory), as the kubelet does. */
  private Path subPath(Made m, String sub) {
    String clean = AtomicWriter.validate(sub);
    Path p = m.dir().resolve(clean);
    try {
      if (!Files.exists(p)) {
        Files.createDirectories(p);
      }
      Path real = p.toRealPath();
      // A symlink in a writable volume must not lead a container out of it.
      if (m.writer() == null && !real.startsWith(m.dir().toRealPath())) {
        throw new IllegalStateException(
            "pod "
                + name()
                + ": subPath "
                + sub
                + " of volume "
                + m.spec().getName()
                + " leaves it");
      }
      return real;
    } catch (IOException e) {
      throw new UncheckedIOException("subPath " + sub + " of volume " + m.spec().getName(), e);
    }
  }

  /** The mount points the host must have: every container's that is not inside its volumes. */
  private List<MountPoints.Point> hostMountPoints() {
    Map<Path, MountPoints.Point> points = new LinkedHashMap<>();
    for (Container c :
        Stream.concat(
                pod.getSpec().getInitContainers().stream(), pod.getSpec().getContainers().stream())
            .toList()) {
      for (Mount m : mounts(c)) {
        if (!m.nested()) {
          points.putIfAbsent(m.target(), new MountPoints.Point(m.target(), m.file()));
        }
      }
    }
    return List.copyOf(points.values());
  }

  private static String quote(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  private String name() {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  /**
   * Stops the resyncs, gives back the mount points (removed when no other pod needs them) and
   * removes the volumes' files, as the kubelet tears a pod's volumes down; to be called once no
   * container runs.
   */
  @Override
  public synchronized void close() {
    if (resync != null) {
      resync.cancel(false);
    }
    if (lease != null) {
      lease.close();
      lease = null;
    }
    try {
      AtomicWriter.deleteTree(root);
    } catch (IOException e) {
      LOG.warning("pod " + name() + ": volumes in " + root + " not removed: " + e.getMessage());
    }
  }
}
