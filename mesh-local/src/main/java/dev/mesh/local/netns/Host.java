package dev.mesh.local.netns;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Commands on this machine, with what they print, and the checks the local cluster needs. */
public final class Host {
  private Host() {}

  /** What a command did. */
  public record Result(int exitCode, String stdout, String stderr) {
    public Result orThrow(String what) {
      if (exitCode != 0) {
        throw new IllegalStateException(
            what
                + " failed (exit "
                + exitCode
                + "): "
                + (stderr.isBlank() ? stdout : stderr).strip());
      }
      return this;
    }
  }

  /**
   * Fails at once, saying why, unless this process is root and the tools exist: network namespaces,
   * veths and iptables need CAP_NET_ADMIN.
   */
  public static void requireRootAndTools() {
    if (!isRoot()) {
      throw new IllegalStateException(
          "the local cluster needs root (CAP_NET_ADMIN) for network namespaces and iptables: run as"
              + " root");
    }
    List<String> missing = new ArrayList<>();
    for (String tool : List.of("ip", "iptables", "iptables-restore", "setpriv")) {
      if (!onPath(tool)) {
        missing.add(tool);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalStateException(
          "the local cluster needs "
              + String.join(", ", missing)
              + ": apt-get install iproute2 iptables util-linux");
    }
  }

  public static boolean isRoot() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          return line.split("\\s+")[2].equals("0"); // effective uid
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  static boolean onPath(String tool) {
    for (String dir :
        System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return Files.isExecutable(Path.of("/usr/sbin", tool))
        || Files.isExecutable(Path.of("/sbin", tool));
  }

  /**
   * Runs a command to completion (at most 60 s), feeding it {@code stdin} if not null. A command
   * that cannot be started reports exit code 127, as a shell does.
   */
  public static Result run(List<String> command, String stdin) {
    Process p;
    try {
      p = new ProcessBuilder(command).start();
    } catch (IOException e) {
      return new Result(127, "", "cannot run " + command.get(0) + ": " + e.getMessage());
    }
    CompletableFuture<String> out = read(p.getInputStream());
    CompletableFuture<String> err = read(p.getErrorStream());
    try (var in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException e) {
      // it exited without reading all of it: its exit code says why
    }
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " did not finish in 60 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IllegalStateException("interrupted running " + String.join(" ", command), e);
    }
    return new Result(p.exitValue(), out.join(), err.join());
  }

  public static Result run(String... command) {
    return run(List.of(command), null);
  }

  private static CompletableFuture<String> read(InputStream in) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
          } catch (IOException e) {
            return "";
          }
        });
  }
}
