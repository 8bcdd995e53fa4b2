package dev.mesh.local.netns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * World-readable copies of class path entries, for processes that run as another user (the proxy as
 * uid 1337, an app as uid 1000) and could not read root's Maven repository or build tree. One
 * directory per owning process, removed when it exits.
 */
public final class ReadableCopy {
  private ReadableCopy() {}

  private static Path root;

  /**
   * This JVM's class path, as world-readable copies. Under Maven's surefire the JVM's own class
   * path is a jar whose manifest names the real entries: those are what is copied.
   */
  public static String classPath() {
    String real = System.getProperty("surefire.test.class.path");
    return classPath(
        real != null
            ? real.replace(java.io.File.pathSeparatorChar, ':')
            : NetworkNamespace.classPath());
  }

  /** A class path (entries separated by ':'), as world-readable copies. */
  public static synchronized String classPath(String classPath) {
    List<String> out = new ArrayList<>();
    int i = 0;
    for (String entry : classPath.split(":")) {
      if (entry.isEmpty()) {
        continue;
      }
      Path source = Path.of(entry);
      if (!Files.exists(source)) {
        continue;
      }
      Path target = root().resolve(i++ + "-" + source.getFileName());
      copy(source, target);
      out.add(target.toString());
    }
    return String.join(":", out);
  }

  /** One file (a jar), as a world-readable copy. */
  public static synchronized Path file(Path source) {
    Path target = root().resolve("file-" + source.getFileName());
    copy(source, target);
    return target;
  }

  private static Path root() {
    if (root == null) {
      try {
        root = Path.of("/tmp", "mesh-" + ProcessHandle.current().pid() + "-readable");
        Files.createDirectories(root);
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot make a readable class path directory", e);
      }
      Path made = root;
      Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(made)));
    }
    return root;
  }

  private static void copy(Path source, Path target) {
    try (Stream<Path> all = Files.walk(source)) {
      for (Path p : all.toList()) {
        Path t = target.resolve(source.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
          Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rwxr-xr-x"));
        } else {
          Files.createDirectories(t.getParent());
          Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
          Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-r--r--"));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot copy " + source + " to " + target, e);
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // best effort at exit
    }
  }
}
