package dev.mesh.local.cluster;

import dev.mesh.local.kubelet.server.KubeletPods;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The pods this node runs, as the kubelet's API serves them: a container's log file, a pod's port
 * through its relay socket ({@link PortRelay}), a command in a container.
 */
final class NodePods implements KubeletPods {
  private final Map<String, RunningPod> pods;

  NodePods(Map<String, RunningPod> pods) {
    this.pods = pods;
  }

  private RunningPod pod(String namespace, String pod) throws IOException {
    RunningPod p = pods.get(namespace + "/" + pod);
    if (p == null) {
      throw new IOException("pod " + namespace + "/" + pod + " does not run on this node");
    }
    return p;
  }

  @Override
  public Optional<Path> logFile(String namespace, String pod, String container) {
    RunningPod p = pods.get(namespace + "/" + pod);
    if (p == null) {
      return Optional.empty();
    }
    Path log = p.dir.resolve(container + ".log");
    return Files.exists(log) ? Optional.of(log) : Optional.empty();
  }

  @Override
  public SocketChannel connect(String namespace, String pod, int port) throws IOException {
    Path socket = PortRelay.socketOf(pod(namespace, pod).dir);
    SocketChannel relay = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    relay.write(ByteBuffer.wrap((port + "\n").getBytes(StandardCharsets.US_ASCII)));
    return relay;
  }

  @Override
  public Process exec(
      String namespace, String pod, String container, List<String> command, boolean tty)
      throws IOException {
    return pod(namespace, pod).exec(container, command);
  }
}
