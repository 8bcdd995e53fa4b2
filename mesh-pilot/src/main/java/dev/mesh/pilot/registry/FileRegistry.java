package dev.mesh.pilot.registry;

import dev.mesh.config.InvalidConfigException;
import dev.mesh.config.IstioResources;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;

/**
 * Pilot's file mode: the Kubernetes-style YAML (Services, EndpointSlices or Endpoints, Pods,
 * Namespaces and the Istio kinds) of every .yaml, .yml and .json file under a directory, read again
 * when a file changes. A document that does not read is reported (file, kind, namespace/name and
 * field) and left out; the rest still serves.
 */
public final class FileRegistry implements Registry {
  private static final Logger LOG = Logger.getLogger(FileRegistry.class.getName());

  private final Path dir;
  private final KubernetesSerialization kube = new KubernetesSerialization();
  private final ScheduledExecutorService watcher =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "pilot-file-registry");
            t.setDaemon(true);
            return t;
          });
  private volatile MeshSnapshot current = MeshSnapshot.EMPTY;
  private java.nio.file.WatchService events;
  private final Map<Path, List<JsonNode>> lastGood = new java.util.HashMap<>();
  private Map<Path, String> seen = Map.of();
  private final java.util.Set<String> reported = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.atomic.AtomicLong invalid =
      new java.util.concurrent.atomic.AtomicLong();

  public FileRegistry(Path dir) {
    this.dir = dir;
  }

  @Override
  public long invalidResources() {
    return invalid.get();
  }

  @Override
  public void start(Runnable onChange) {
    reloadIfChanged();
    watchEvents(onChange);
    // Polling as well: inotify does not see into subdirectories created later.
    watcher.scheduleWithFixedDelay(
        () -> {
          try {
            if (reloadIfChanged()) {
              onChange.run();
            }
          } catch (RuntimeException e) {
            LOG.warning("config dir " + dir + ": " + e.getMessage());
          }
        },
        1000,
        1000,
        TimeUnit.MILLISECONDS);
  }

  /** Reloads as soon as the kernel reports a change in the directory (inotify on Linux). */
  private void watchEvents(Runnable onChange) {
    java.nio.file.WatchService events;
    try {
      events = dir.getFileSystem().newWatchService();
      dir.register(
          events,
          java.nio.file.StandardWatchEventKinds.ENTRY_CREATE,
          java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY,
          java.nio.file.StandardWatchEventKinds.ENTRY_DELETE);
    } catch (IOException e) {
      LOG.warning("config dir " + dir + ": no change events, polling only: " + e.getMessage());
      return;
    }
    Thread t =
        new Thread(
            () -> {
              while (!Thread.currentThread().isInterrupted()) {
                try {
                  var key = events.take();
                  key.pollEvents();
                  key.reset();
                  // Let a write that is under way finish before reading.
                  Thread.sleep(10);
                  for (var more = events.poll(); more != null; more = events.poll()) {
                    more.pollEvents();
                    more.reset();
                  }
                  if (reloadIfChanged()) {
                    onChange.run();
                  }
                } catch (InterruptedException | java.nio.file.ClosedWatchServiceException e) {
                  return;
                } catch (RuntimeException e) {
                  LOG.warning("config dir " + dir + ": " + e.getMessage());
                }
              }
            },
            "pilot-file-events");
    t.setDaemon(true);
    t.start();
    this.events = events;
  }

  @Override
  public MeshSnapshot current() {
    return current;
  }

  /** Reads the directory again when a file was added, removed or changed; true if it was. */
  synchronized boolean reloadIfChanged() {
    Map<Path, String> now = new TreeMap<>();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.filter(FileRegistry::isConfig).toList()) {
        now.put(f, Files.getLastModifiedTime(f).toMillis() + ":" + Files.size(f));
      }
    } catch (IOException e) {
      LOG.warning("config dir " + dir + ": cannot list: " + e.getMessage());
      return false;
    }
    if (now.equals(seen)) {
      return false;
    }
    seen = now;
    current = read(now);
    return true;
  }

  private static boolean isConfig(Path f) {
    String n = f.getFileName().toString();
    return Files.isRegularFile(f)
        && (n.endsWith(".yaml") || n.endsWith(".yml") || n.endsWith(".json"));
  }

  /** A file's objects as last read, with the stamp (mtime and size) they were read at. */
  private record Parsed(String stamp, List<HasMetadata> objects) {}

  private final Map<Path, Parsed> parsed = new java.util.HashMap<>();

  /** The mesh from the files; a file whose stamp did not change is not read again. */
  private MeshSnapshot read(Map<Path, String> stamps) {
    parsed.keySet().retainAll(stamps.keySet());
    lastGood.keySet().retainAll(stamps.keySet());
    List<HasMetadata> all = new ArrayList<>();
    for (var e : stamps.entrySet()) {
      Parsed p = parsed.get(e.getKey());
      if (p == null || !p.stamp().equals(e.getValue())) {
        p = new Parsed(e.getValue(), parse(e.getKey()));
        parsed.put(e.getKey(), p);
      }
      all.addAll(p.objects());
    }
    return MeshSnapshot.of(all);
  }

  /** The objects of one file; documents that do not read are reported and left out. */
  private List<HasMetadata> parse(Path f) {
    List<JsonNode> docs;
    try {
      docs = IstioResources.readDocuments(Files.readString(f));
      lastGood.put(f, docs);
    } catch (IOException | IllegalArgumentException e) {
      // Caught mid-write, or broken: its last good documents keep serving.
      report(f + ": " + e.getMessage());
      docs = lastGood.getOrDefault(f, List.of());
    }
    List<HasMetadata> out = new ArrayList<>();
    for (JsonNode doc : docs) {
      String ref = doc.path("kind").asString("?") + " " + IstioResources.refOf(doc);
      try {
        HasMetadata r =
            IstioResources.kindOf(doc).isPresent()
                ? IstioResources.fromTree(doc)
                : kube.unmarshal(doc.toString());
        defaultNamespace(r);
        out.add(r);
      } catch (InvalidConfigException e) {
        report(f + ": " + e.getMessage());
      } catch (RuntimeException e) {
        report(f + ": " + ref + ": " + e.getMessage());
      }
    }
    return List.copyOf(out);
  }

  private static void defaultNamespace(HasMetadata r) {
    if (r.getMetadata() != null
        && (r.getMetadata().getNamespace() == null || r.getMetadata().getNamespace().isEmpty())
        && !(r instanceof Namespace)) {
      r.getMetadata().setNamespace("default"); // kubectl's default
    }
  }

  private void report(String line) {
    if (reported.add(line)) {
      invalid.incrementAndGet();
      LOG.warning("invalid config skipped: " + line);
    }
  }

  @Override
  public void close() {
    watcher.shutdownNow();
    if (events != null) {
      try {
        events.close();
      } catch (IOException e) {
        LOG.fine("closing the watch service: " + e.getMessage());
      }
    }
  }
}
