package dev.mesh.local.cluster.volume;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Writes a volume's payload with the layout of Kubernetes' atomic writer, so that a reader never
 * sees half an update: the files go to a new {@code ..<timestamp>} directory, the {@code ..data}
 * symlink is swapped to it with one rename, and each top-level name of the payload is a symlink
 * through {@code ..data}. Names of the payload that are gone are removed after the swap, then the
 * previous timestamped directory. Names starting with {@code ..} are the writer's.
 */
public final class AtomicWriter {
  static final String DATA = "..data";
  private static final String DATA_TMP = "..data_tmp";
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyy_MM_dd_HH_mm_ss.");

  private final Path target;
  private final Long fsGroup;
  private final boolean readOnly;

  /**
   * @param fsGroup the pod's securityContext.fsGroup, or null: what is written is then given to
   *     that group, as the kubelet's SetVolumeOwnership does after each write
   * @param readOnly whether the volume is mounted read-only (the group gets read, not write)
   */
  public AtomicWriter(Path target, Long fsGroup, boolean readOnly) {
    this.target = target;
    this.fsGroup = fsGroup;
    this.readOnly = readOnly;
  }

  public Path target() {
    return target;
  }

  /**
   * Makes the volume show exactly {@code payload} (relative path to file); false when it already
   * did, and nothing was touched.
   */
  public synchronized boolean write(Map<String, FileProjection> payload) throws IOException {
    Map<String, FileProjection> clean = new TreeMap<>();
    for (var e : payload.entrySet()) {
      clean.put(validate(e.getKey()), e.getValue());
    }
    Files.createDirectories(target);
    Path old = current();
    if (old != null && same(old, clean, fsGroup == null ? 0 : VolumeOwnership.mask(readOnly))) {
      return false;
    }
    Path ts = Files.createTempDirectory(target, ".." + LocalDateTime.now().format(STAMP));
    try {
      Files.setAttribute(ts, "unix:mode", 0755);
      for (var e : clean.entrySet()) {
        writeFile(ts.resolve(e.getKey()), e.getValue());
      }
      if (fsGroup != null) {
        VolumeOwnership.apply(target, fsGroup, readOnly);
      }
      Path tmp = target.resolve(DATA_TMP);
      Files.deleteIfExists(tmp);
      Files.createSymbolicLink(tmp, ts.getFileName());
      // rename(2) replaces the old link in one step: readers see the old files or the new ones.
      Files.move(tmp, target.resolve(DATA), StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | RuntimeException e) {
      deleteTree(ts);
      throw e;
    }
    Set<String> visible = new TreeSet<>();
    for (String path : clean.keySet()) {
      visible.add(path.split("/", 2)[0]);
    }
    for (String name : visible) {
      Path link = target.resolve(name);
      if (!Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
        try {
          Files.createSymbolicLink(link, Path.of(DATA, name));
        } catch (FileAlreadyExistsException e) {
          // made by an earlier write that failed later: it points the same way
        }
      }
    }
    if (old != null) {
      // Only what the previous payload showed: other names (nested mount points) are not ours.
      try (Stream<Path> entries = Files.list(old)) {
        for (Path p : entries.toList()) {
          String name = p.getFileName().toString();
          if (!visible.contains(name)) {
            Files.deleteIfExists(target.resolve(name));
          }
        }
      }
      deleteTree(old);
    }
    return true;
  }

  /** The timestamped directory {@code ..data} points to, or null before the first write. */
  private Path current() throws IOException {
    Path data = target.resolve(DATA);
    if (!Files.isSymbolicLink(data)) {
      return null;
    }
    Path ts = target.resolve(Files.readSymbolicLink(data));
    return Files.isDirectory(ts) ? ts : null;
  }

  /** Whether the directory holds exactly these files with these bytes, modes and owners. */
  private static boolean same(Path dir, Map<String, FileProjection> payload, int added)
      throws IOException {
    Map<String, Path> files = new HashMap<>();
    try (Stream<Path> all = Files.walk(dir)) {
      all.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
          .forEach(p -> files.put(dir.relativize(p).toString(), p));
    }
    if (!files.keySet().equals(payload.keySet())) {
      return false;
    }
    for (var e : payload.entrySet()) {
      Path p = files.get(e.getKey());
      FileProjection f = e.getValue();
      int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
      if (!Arrays.equals(Files.readAllBytes(p), f.data())
          || mode != ((f.mode() & 07777) | added)
          || (f.fsUser() != null
              && ((Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS))
                  != f.fsUser().intValue())) {
        return false;
      }
    }
    return true;
  }

  private static void writeFile(Path file, FileProjection f) throws IOException {
    Path parent = file.getParent();
    if (!Files.isDirectory(parent)) {
      Files.createDirectories(parent);
      Files.setAttribute(parent, "unix:mode", 0755);
    }
    Files.write(file, f.data());
    Files.setAttribute(file, "unix:mode", f.mode() & 07777);
    if (f.fsUser() != null) {
      Files.setAttribute(file, "unix:uid", f.fsUser().intValue());
    }
  }

  /** The payload path cleaned, or an error naming what Kubernetes' validation would refuse. */
  static String validate(String path) {
    if (path.isEmpty() || path.startsWith("/")) {
      throw new IllegalArgumentException("volume path '" + path + "' must be relative");
    }
    if (path.length() > 4096) {
      throw new IllegalArgumentException("volume path is longer than 4096 characters");
    }
    StringBuilder clean = new StringBuilder();
    for (String part : path.split("/")) {
      if (part.isEmpty() || part.equals(".")) {
        continue;
      }
      if (part.equals("..")) {
        throw new IllegalArgumentException("volume path '" + path + "' must not contain '..'");
      }
      if (part.length() > 255) {
        throw new IllegalArgumentException(
            "volume path '" + path + "' has a name longer than 255 characters");
      }
      clean.append(clean.length() == 0 ? "" : "/").append(part);
    }
    if (clean.length() == 0 || clean.toString().startsWith("..")) {
      throw new IllegalArgumentException("volume path '" + path + "' must not start with '..'");
    }
    return clean.toString();
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> all = Files.walk(p)) {
      for (Path q : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }
}
