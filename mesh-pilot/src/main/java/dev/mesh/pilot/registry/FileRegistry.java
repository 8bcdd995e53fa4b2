package dev.mesh.pilot.registry;

import dev.mesh.config.InvalidConfigException;
import dev.mesh.config.IstioResources;
import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.ServiceEntry;
import dev.mesh.config.networking.Sidecar;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.config.security.PeerAuthentication;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.CustomResource;
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

  /** Documents refused so far (each reported once). */
  public long invalidDocuments() {
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
    current = read(now.keySet());
    return true;
  }

  private static boolean isConfig(Path f) {
    String n = f.getFileName().toString();
    return Files.isRegularFile(f)
        && (n.endsWith(".yaml") || n.endsWith(".yml") || n.endsWith(".json"));
  }

  private MeshSnapshot read(Iterable<Path> files) {
    List<Service> services = new ArrayList<>();
    List<EndpointSlice> slices = new ArrayList<>();
    List<Endpoints> endpoints = new ArrayList<>();
    List<Pod> pods = new ArrayList<>();
    List<Namespace> namespaces = new ArrayList<>();
    List<VirtualService> vs = new ArrayList<>();
    List<DestinationRule> dr = new ArrayList<>();
    List<ServiceEntry> se = new ArrayList<>();
    List<Sidecar> sidecars = new ArrayList<>();
    List<PeerAuthentication> pa = new ArrayList<>();
    List<AuthorizationPolicy> ap = new ArrayList<>();
    for (Path f : files) {
      List<JsonNode> docs;
      try {
        docs = IstioResources.readDocuments(Files.readString(f));
        lastGood.put(f, docs);
      } catch (IOException | IllegalArgumentException e) {
        // Caught mid-write, or broken: its last good documents keep serving.
        report(f + ": " + e.getMessage());
        docs = lastGood.getOrDefault(f, List.of());
      }
      for (JsonNode doc : docs) {
        String ref = doc.path("kind").asString("?") + " " + IstioResources.refOf(doc);
        try {
          if (IstioResources.kindOf(doc).isPresent()) {
            CustomResource<?, ?> r = IstioResources.fromTree(doc);
            defaultNamespace(r);
            if (r instanceof VirtualService v) {
              vs.add(v);
            } else if (r instanceof DestinationRule d) {
              dr.add(d);
            } else if (r instanceof ServiceEntry s) {
              se.add(s);
            } else if (r instanceof Sidecar s) {
              sidecars.add(s);
            } else if (r instanceof PeerAuthentication p) {
              pa.add(p);
            } else if (r instanceof AuthorizationPolicy a) {
              ap.add(a);
            } // a Gateway is served to gateways, not to sidecars
            continue;
          }
          HasMetadata k8s = kube.unmarshal(doc.toString());
          defaultNamespace(k8s);
          if (k8s instanceof Service s) {
            services.add(s);
          } else if (k8s instanceof EndpointSlice s) {
            slices.add(s);
          } else if (k8s instanceof Endpoints e) {
            endpoints.add(e);
          } else if (k8s instanceof Pod p) {
            pods.add(p);
          } else if (k8s instanceof Namespace n) {
            namespaces.add(n);
          } // other kinds are not pilot's business
        } catch (InvalidConfigException e) {
          report(f + ": " + e.getMessage());
        } catch (RuntimeException e) {
          report(f + ": " + ref + ": " + e.getMessage());
        }
      }
    }
    return new MeshSnapshot(
        List.copyOf(services),
        List.copyOf(slices),
        List.copyOf(endpoints),
        List.copyOf(pods),
        List.copyOf(namespaces),
        List.copyOf(vs),
        List.copyOf(dr),
        List.copyOf(se),
        List.copyOf(sidecars),
        List.copyOf(pa),
        List.copyOf(ap));
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
