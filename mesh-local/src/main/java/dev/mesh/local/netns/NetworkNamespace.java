package dev.mesh.local.netns;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A Linux network namespace owned by this process, named {@code mesh-<ownerPid>-<name>} so that a
 * later run can tell a leftover of a dead owner (which it removes) from a live one's (which it
 * leaves alone). Processes started in it are killed when it is closed.
 */
public final class NetworkNamespace implements AutoCloseable {
  static final Pattern OWNED = Pattern.compile("mesh-(\\d+)-[a-z0-9-]+");
  private static final Pattern NAME = Pattern.compile("[a-z0-9-]{1,40}");

  private final String name;
  private final List<Process> processes = new CopyOnWriteArrayList<>();
  private boolean closed;

  private NetworkNamespace(String name) {
    this.name = name;
  }

  /** Creates {@code mesh-<pid>-<name>} with loopback up, after sweeping dead owners' leftovers. */
  public static NetworkNamespace create(String name) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "namespace name must be [a-z0-9-]{1,40}, got '" + name + "'");
    }
    Host.requireRootAndTools();
    Sweeper.sweepDeadOwners();
    String full = "mesh-" + ProcessHandle.current().pid() + "-" + name;
    Host.run("ip", "netns", "add", full).orThrow("ip netns add " + full);
    NetworkNamespace ns = new NetworkNamespace(full);
    try {
      ns.exec("ip", "link", "set", "lo", "up").orThrow("bringing up lo in " + full);
    } catch (RuntimeException e) {
      ns.close();
      throw e;
    }
    return ns;
  }

  public String name() {
    return name;
  }

  /** The command line that runs {@code command} inside this namespace. */
  public List<String> wrap(List<String> command) {
    List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", name));
    all.addAll(command);
    return all;
  }

  /** Runs a command inside the namespace to completion. */
  public Host.Result exec(String... command) {
    return Host.run(wrap(List.of(command)), null);
  }

  /** Runs a command inside the namespace with input on its stdin, e.g. iptables-restore. */
  public Host.Result execWithInput(String stdin, String... command) {
    return Host.run(wrap(List.of(command)), stdin);
  }

  /** Starts a long-running process inside the namespace; its output goes to {@code log}. */
  public Process start(List<String> command, Path log) {
    try {
      Process p =
          new ProcessBuilder(wrap(command))
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
              .start();
      processes.add(p);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot start " + String.join(" ", command) + " in " + name, e);
    }
  }

  /**
   * Writes the namespace's hosts file, {@code /etc/netns/<name>/hosts}: {@code ip netns exec} shows
   * it as /etc/hosts to what runs inside, so names resolve as the local cluster says.
   */
  public void writeHosts(String content) {
    Path dir = Path.of("/etc/netns", name);
    try {
      java.nio.file.Files.createDirectories(dir);
      // Rewritten in place: running processes see it through a bind mount of this very file.
      java.nio.file.Files.writeString(dir.resolve("hosts"), content);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the hosts file of " + name, e);
    }
  }

  /** The two ends of a veth pair: the device here and the one in the other namespace. */
  public record Link(String here, String there) {}

  /**
   * Joins this namespace to another with a veth pair, {@code ip/prefix} on each end, both up. The
   * device names are derived from the namespaces so that pairs never collide.
   */
  public Link linkTo(NetworkNamespace other, String here, String there) {
    String a = "v" + Integer.toHexString((name + ">" + other.name).hashCode());
    String b = "v" + Integer.toHexString((other.name + ">" + name).hashCode());
    Host.run(
            "ip",
            "link",
            "add",
            a,
            "netns",
            name,
            "type",
            "veth",
            "peer",
            "name",
            b,
            "netns",
            other.name)
        .orThrow("ip link add " + a + " (veth to " + other.name + ")");
    exec("ip", "addr", "add", here, "dev", a).orThrow("addressing " + a);
    exec("ip", "link", "set", a, "up").orThrow("bringing up " + a);
    other.exec("ip", "addr", "add", there, "dev", b).orThrow("addressing " + b);
    other.exec("ip", "link", "set", b, "up").orThrow("bringing up " + b);
    return new Link(a, b);
  }

  /** The java binary running this process, for starting JVMs inside the namespace. */
  public static String javaBinary() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** This JVM's class path, for child JVMs that run the same code. */
  public static String classPath() {
    return System.getProperty("java.class.path").replace(File.pathSeparatorChar, ':');
  }

  /** Kills what runs inside, then deletes the namespace (and its bind mount under /run/netns). */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (Process p : processes) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    Sweeper.delete(name);
  }
}
