package dev.mesh.local.netns;

import dev.mesh.local.cluster.volume.MountPoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;
import java.util.regex.Matcher;

/**
 * Removes what runs that were killed (SIGKILL included) left behind: namespaces named {@code
 * mesh-<pid>-*} whose owner pid is dead, with the processes still inside them, and the mount points
 * made on the host for their pods' volumes that no live owner's pod needs. A live owner's
 * namespaces are never touched.
 */
public final class Sweeper {
  private static final Logger LOG = Logger.getLogger(Sweeper.class.getName());

  private Sweeper() {}

  /**
   * The namespace names this sweep removed. Also removed: a dead owner's directories under /tmp
   * ({@code mesh-<pid>-*}), after killing the processes it listed in their {@value #PIDS} files
   * (what it ran outside any namespace, such as pilot and the injector of the local mesh).
   */
  public static synchronized List<String> sweepDeadOwners() {
    sweepDirectories();
    List<String> removed = new ArrayList<>();
    for (String ns : list()) {
      Matcher m = NetworkNamespace.OWNED.matcher(ns);
      if (m.matches() && !alive(Long.parseLong(m.group(1)))) {
        delete(ns);
        removed.add(ns);
        LOG.info("removed network namespace " + ns + " left by dead process " + m.group(1));
      }
    }
    // After the namespaces: their processes (the containers whose mounts used them) are gone.
    for (Path p : MountPoints.host().sweepDeadOwners()) {
      LOG.info("removed mount point " + p + " that pods of dead processes needed");
    }
    return removed;
  }

  /** The file in an owner's /tmp directory that lists the pids it started outside namespaces. */
  public static final String PIDS = "pids";

  private static void sweepDirectories() {
    try (var dirs = Files.list(Path.of("/tmp"))) {
      for (Path dir : dirs.toList()) {
        Matcher m = DIRECTORY.matcher(dir.getFileName().toString());
        if (!m.matches() || alive(Long.parseLong(m.group(1))) || !Files.isDirectory(dir)) {
          continue;
        }
        Path pids = dir.resolve(PIDS);
        if (Files.isRegularFile(pids)) {
          for (String line : Files.readAllLines(pids)) {
            if (!line.isBlank()) {
              ProcessHandle.of(Long.parseLong(line.strip()))
                  .filter(h -> h.info().commandLine().orElse("").contains("mesh"))
                  .ifPresent(ProcessHandle::destroyForcibly);
            }
          }
        }
        deleteTree(dir);
        LOG.info("removed " + dir + " left by dead process " + m.group(1));
      }
    } catch (java.io.IOException e) {
      LOG.warning("cannot sweep /tmp: " + e.getMessage());
    }
  }

  private static final java.util.regex.Pattern DIRECTORY =
      java.util.regex.Pattern.compile("mesh-(\\d+)-.*");

  /** Every network namespace name on the machine. */
  public static List<String> list() {
    List<String> names = new ArrayList<>();
    for (String line : Host.run("ip", "netns", "list").stdout().split("\n")) {
      if (!line.isBlank()) {
        names.add(line.trim().split("\\s+")[0]);
      }
    }
    return names;
  }

  static boolean alive(long pid) {
    return Files.exists(Path.of("/proc", Long.toString(pid)));
  }

  /** Kills the processes inside a namespace and deletes it. */
  static void delete(String ns) {
    for (String pid : Host.run("ip", "netns", "pids", ns).stdout().split("\\s+")) {
      if (!pid.isBlank()) {
        ProcessHandle.of(Long.parseLong(pid.trim())).ifPresent(ProcessHandle::destroyForcibly);
      }
    }
    Host.run("ip", "netns", "del", ns);
    deleteTree(Path.of("/etc/netns", ns));
  }

  private static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      LOG.warning("cannot remove " + dir + ": " + e.getMessage());
    }
  }
}
