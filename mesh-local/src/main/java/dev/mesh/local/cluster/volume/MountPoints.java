package dev.mesh.local.cluster.volume;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The host's side of containers' mounts. A container's volumes are bind-mounted in its own mount
 * namespace, which the host never sees; but a mount needs a mount point, and pods share the host's
 * filesystem, so a missing one (/var/run/secrets/kubernetes.io/serviceaccount) is made on the host.
 * Those made here are recorded in a registry shared by every process on the machine, with who needs
 * which; one is removed when no live user needs it any more. It must not go earlier: removing a
 * directory that is a mount point in another namespace detaches that mount there. The registry's
 * lock is held while mount points are made, recorded and removed.
 */
public final class MountPoints {
  private static final Logger LOG = Logger.getLogger(MountPoints.class.getName());

  /** The registry of every owner on the machine, under /run: gone with the mount points' owners. */
  public static final Path REGISTRY = Path.of("/run/mesh-volumes");

  private static final String CREATED = "created";
  private static final String USERS = "users";
  private static final Pattern USER = Pattern.compile("(\\d+)-.*");
  private static final AtomicLong NEXT = new AtomicLong();

  /** Threads of this JVM; the file lock keeps other processes out. */
  private static final Object JVM = new Object();

  /** A mount point: a directory, or a file for a volume's subPath that is one. */
  public record Point(Path path, boolean file) {}

  private final Path registry;

  public MountPoints(Path registry) {
    this.registry = registry;
  }

  public static MountPoints host() {
    return new MountPoints(REGISTRY);
  }

  /** What a user (a pod) holds; closing it removes what no one else needs. */
  public final class Lease implements AutoCloseable {
    private final String user;
    private boolean closed;

    private Lease(String user) {
      this.user = user;
    }

    @Override
    public void close() {
      synchronized (this) {
        if (closed) {
          return;
        }
        closed = true;
      }
      locked(
          () -> {
            Files.deleteIfExists(registry.resolve(USERS).resolve(user));
            collect();
            return null;
          });
    }
  }

  /**
   * Makes what does not exist of these mount points (and their parents), records what it made and
   * that {@code who} needs all of them. {@code who} names the user in the registry, e.g. the pod.
   */
  public Lease acquire(String who, Collection<Point> points) {
    String user =
        ProcessHandle.current().pid()
            + "-"
            + NEXT.incrementAndGet()
            + "-"
            + who.replaceAll("[^A-Za-z0-9_.-]", "_");
    return locked(
        () -> {
          Set<String> created = read(registry.resolve(CREATED));
          List<String> needed = new ArrayList<>();
          try {
            for (Point p : points) {
              make(p, created);
              needed.add(p.path().toString());
            }
          } finally {
            write(registry.resolve(CREATED), created);
          }
          Path users = Files.createDirectories(registry.resolve(USERS));
          write(users.resolve(user), needed);
          return new Lease(user);
        });
  }

  /**
   * After a crash: forgets the users whose process is dead and removes the mount points no live
   * user needs; returns those removed.
   */
  public List<Path> sweepDeadOwners() {
    if (!Files.isDirectory(registry)) {
      return List.of();
    }
    return locked(this::collect);
  }

  /** A path made absolute, with the symlinks of its existing part resolved (/var/run is /run). */
  public static Path resolve(Path path) throws IOException {
    Path abs = path.toAbsolutePath().normalize();
    Path existing = abs;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      return abs;
    }
    return existing.toRealPath().resolve(existing.relativize(abs));
  }

  private void make(Point p, Set<String> created) throws IOException {
    Path path = p.path();
    Path root = path.getRoot();
    Path at = root;
    for (int i = 0; i < path.getNameCount(); i++) {
      at = at.resolve(path.getName(i));
      if (Files.exists(at, LinkOption.NOFOLLOW_LINKS)) {
        continue;
      }
      boolean last = i == path.getNameCount() - 1;
      if (last && p.file()) {
        Files.createFile(at);
        Files.setAttribute(at, "unix:mode", 0644);
      } else {
        Files.createDirectory(at);
        Files.setAttribute(at, "unix:mode", 0755);
      }
      created.add(at.toString());
    }
  }

  /** Drops dead users, then removes the mount points made here that no live user needs. */
  private List<Path> collect() throws IOException {
    Set<String> inUse = new LinkedHashSet<>();
    Path users = registry.resolve(USERS);
    if (Files.isDirectory(users)) {
      try (Stream<Path> all = Files.list(users)) {
        for (Path u : all.toList()) {
          Matcher m = USER.matcher(u.getFileName().toString());
          if (m.matches() && !Files.exists(Path.of("/proc", m.group(1)))) {
            Files.deleteIfExists(u);
          } else {
            inUse.addAll(read(u));
          }
        }
      }
    }
    Set<String> created = read(registry.resolve(CREATED));
    List<Path> removed = new ArrayList<>();
    List<String> deepestFirst = new ArrayList<>(created);
    deepestFirst.sort(Comparator.comparingInt(String::length).reversed());
    for (String made : deepestFirst) {
      if (inUse.stream().anyMatch(u -> u.equals(made) || u.startsWith(made + "/"))) {
        continue;
      }
      Path p = Path.of(made);
      if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !empty(p)) {
        LOG.info("left mount point " + p + " on the host: something else was put in it");
      } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && Files.size(p) > 0) {
        LOG.info("left mount point " + p + " on the host: something was written to it");
      } else if (Files.deleteIfExists(p)) {
        removed.add(p);
      }
      created.remove(made);
    }
    write(registry.resolve(CREATED), created);
    return removed;
  }

  private static boolean empty(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }

  private static Set<String> read(Path file) throws IOException {
    Set<String> lines = new LinkedHashSet<>();
    if (Files.isRegularFile(file)) {
      for (String l : Files.readAllLines(file)) {
        if (!l.isBlank()) {
          lines.add(l.strip());
        }
      }
    }
    return lines;
  }

  /** Written whole, then renamed, so that a crash leaves the old list or the new one. */
  private static void write(Path file, Collection<String> lines) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, lines);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private interface Locked<T> {
    T run() throws IOException;
  }

  private <T> T locked(Locked<T> work) {
    synchronized (JVM) {
      try {
        Files.createDirectories(registry);
        Files.setAttribute(registry, "unix:mode", 0700);
        try (FileChannel ch =
            FileChannel.open(
                registry.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
          FileLock lock = ch.lock();
          try {
            return work.run();
          } finally {
            lock.release();
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException("mount points registry " + registry + ": " + e, e);
      }
    }
  }
}
