package dev.mesh.local.kubelet.server;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What the kubelet's API needs of the pods this node runs; the cluster implements it. Every method
 * names the pod as the API server does: namespace, pod name (and container where one is meant).
 */
public interface KubeletPods {
  /**
   * The file a container's output goes to (the one {@code kubectl logs} reads and follows), or
   * empty if this node runs no such container.
   */
  Optional<Path> logFile(String namespace, String pod, String container);

  /**
   * A connected stream to {@code port} in the pod's network namespace, for port-forward. A TCP
   * channel or a Unix-domain one (a relay into the namespace) will do; the server closes it.
   *
   * @throws IOException naming what failed (no such pod, nothing listens); the client sees it
   */
  SocketChannel connect(String namespace, String pod, int port) throws IOException;

  /**
   * Starts {@code command} in the container, as {@code kubectl exec} does: its stdin, stdout and
   * stderr are the process's; with {@code tty} the implementation may merge stderr into stdout.
   *
   * @throws IOException naming what failed (no such container, no such command)
   */
  Process exec(String namespace, String pod, String container, List<String> command, boolean tty)
      throws IOException;
}
