package dev.mesh.local.netns;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * HTTP/1.0 requests made from inside a network namespace, as a given uid, with bash's /dev/tcp (no
 * client program needed in the namespace); and an app started there.
 */
public final class NamespaceHttp {
  private NamespaceHttp() {}

  /** A request from inside the namespace as {@code uid}; its output (head and body). */
  public static Host.Result request(
      NetworkNamespace ns, int uid, String host, int port, String line) {
    return request(ns, uid, host, port, line, "app");
  }

  /** The same with a Host header of its own, and more header lines ("name: value"). */
  public static Host.Result request(
      NetworkNamespace ns,
      int uid,
      String host,
      int port,
      String line,
      String hostHeader,
      String... headers) {
    String script = script(host, port, line, hostHeader, headers);
    return ns.exec(
        "setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "bash", "-c", script);
  }

  /**
   * The bash script that makes such a request with /dev/tcp and prints the response: the same
   * request wherever bash runs (a network namespace here, a container through exec on a cluster).
   */
  public static String script(
      String host, int port, String line, String hostHeader, String... headers) {
    StringBuilder head = new StringBuilder("Host: " + hostHeader);
    for (String h : headers) {
      head.append("\\r\\n").append(h);
    }
    return "exec 3<>/dev/tcp/%s/%d && printf '%s HTTP/1.0\\r\\n%s\\r\\n\\r\\n' >&3 && cat <&3"
        .formatted(host, port, line, head);
  }

  /** Polls until a request's answer contains {@code expected}; false after {@code seconds}. */
  public static boolean awaitAnswer(
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

  /** Starts the echo app inside the namespace on {@code ip:port} (or a port on 127.0.0.1). */
  public static Process startEcho(NetworkNamespace ns, String address, java.nio.file.Path log) {
    return ns.start(
        List.of(
            NetworkNamespace.javaBinary(),
            "-cp",
            NetworkNamespace.classPath(),
            dev.mesh.local.apps.EchoServer.class.getName(),
            address),
        log);
  }
}
