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

  static Host.Result request(NetworkNamespace ns, int uid, String host, int port, String line) {
    return dev.mesh.local.netns.NamespaceHttp.request(ns, uid, host, port, line);
  }

  static boolean awaitAnswer(
      NetworkNamespace ns, String host, int port, String line, String expected, int seconds)
      throws InterruptedException {
    return dev.mesh.local.netns.NamespaceHttp.awaitAnswer(ns, host, port, line, expected, seconds);
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

  static void startEcho(NetworkNamespace ns, String address, Path log) {
    dev.mesh.local.netns.NamespaceHttp.startEcho(ns, address, log);
  }

  private static String read(Path log) {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }
}
