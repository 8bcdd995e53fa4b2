package dev.mesh.proxy;

import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NetworkNamespace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** HTTP/1.0 requests made inside a network namespace, and a proxy started there. */
final class InNamespace {
  private InNamespace() {}

  /** A request from inside the namespace as {@code uid}, with bash's /dev/tcp; its output. */
  static Host.Result request(NetworkNamespace ns, int uid, String host, int port, String line) {
    String script =
        "exec 3<>/dev/tcp/%s/%d && printf '%s HTTP/1.0\\r\\nHost: app\\r\\n\\r\\n' >&3 && cat <&3"
            .formatted(host, port, line);
    return ns.exec(
        "setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "bash", "-c", script);
  }

  /** Polls until a request's answer contains {@code expected}; false after {@code seconds}. */
  static boolean awaitAnswer(
      NetworkNamespace ns, String host, int port, String line, String expected, int seconds)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (request(ns, 0, host, port, line).stdout().contains(expected)) {
        return true;
      }
      Thread.sleep(100); // poll interval, bounded by the deadline
    }
    return false;
  }

  /** Starts mesh-proxy inside the namespace and waits until its admin on 15000 says LIVE. */
  static Process startProxy(NetworkNamespace ns, Path config, Path log) throws Exception {
    Process proxy =
        ns.start(
            List.of(
                NetworkNamespace.javaBinary(),
                "-cp",
                NetworkNamespace.classPath(),
                Main.class.getName(),
                "-c",
                config.toString(),
                "--concurrency",
                "1"),
            log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline && proxy.isAlive()) {
      if (request(ns, 0, "127.0.0.1", 15000, "GET /ready").stdout().contains("LIVE")) {
        return proxy;
      }
      Thread.sleep(100); // poll interval, bounded by the deadline
    }
    throw new AssertionError("the proxy never became ready:\n" + read(log));
  }

  /** Starts the test echo server inside the namespace on {@code ip:port}. */
  static void startEcho(NetworkNamespace ns, String address, Path log) {
    ns.start(
        List.of(
            NetworkNamespace.javaBinary(),
            "-cp",
            NetworkNamespace.classPath(),
            EchoServerMain.class.getName(),
            address),
        log);
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }
}
