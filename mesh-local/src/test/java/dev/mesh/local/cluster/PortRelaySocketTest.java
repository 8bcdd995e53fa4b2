package dev.mesh.local.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class PortRelaySocketTest {

  @Test
  void aPodsRelaySocketCanBeBoundWhateverTheLengthOfItsNames() throws Exception {
    Path state = Files.createTempDirectory("mesh-4194304-e2e-");
    try {
      Path longest = state.resolve("pods").resolve("n".repeat(63) + "_" + "p".repeat(253));
      Path socket = PortRelay.socketOf(longest);
      assertThat(socket.toString().length()).isLessThanOrEqualTo(106); // Java's bound
      assertThat(socket).isNotEqualTo(PortRelay.socketOf(state.resolve("pods").resolve("a_b")));
      assertThat(socket)
          .isEqualTo(LocalCluster.relaySocket(state, "n".repeat(63), "p".repeat(253)));
      Files.createDirectories(socket.getParent());
      try (var s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        s.bind(UnixDomainSocketAddress.of(socket));
      }
    } finally {
      try (var files = Files.walk(state)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
