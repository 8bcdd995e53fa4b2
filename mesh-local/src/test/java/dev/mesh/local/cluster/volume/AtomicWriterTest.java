package dev.mesh.local.cluster.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The atomic writer's layout on a real directory: what a reader of the volume sees. */
class AtomicWriterTest {
  @TempDir Path dir;

  static FileProjection file(String text, int mode) {
    return FileProjection.of(text.getBytes(StandardCharsets.UTF_8), mode);
  }

  static int mode(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:mode") & 07777;
  }

  private List<String> timestamped() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString())
          .filter(n -> n.matches("\\.\\.\\d{4}_\\d{2}_\\d{2}_\\d{2}_\\d{2}_\\d{2}\\.\\d+"))
          .toList();
    }
  }

  @Test
  void writesKubernetesLayoutThenSwapsUpdatesAndDropsRemovedKeys() throws Exception {
    AtomicWriter w = new AtomicWriter(dir, null, true);
    assertThat(w.write(Map.of("a", file("one", 0644), "sub/b", file("two", 0400)))).isTrue();

    assertThat(Files.readString(dir.resolve("a"))).isEqualTo("one");
    assertThat(Files.readString(dir.resolve("sub/b"))).isEqualTo("two");
    assertThat(Files.readSymbolicLink(dir.resolve("a"))).isEqualTo(Path.of("..data/a"));
    assertThat(Files.readSymbolicLink(dir.resolve("sub"))).isEqualTo(Path.of("..data/sub"));
    List<String> first = timestamped();
    assertThat(first).hasSize(1);
    assertThat(Files.readSymbolicLink(dir.resolve("..data"))).isEqualTo(Path.of(first.get(0)));
    assertThat(mode(dir.resolve("a"))).isEqualTo(0644);
    assertThat(mode(dir.resolve("sub/b"))).isEqualTo(0400);

    // The same payload again touches nothing.
    assertThat(w.write(Map.of("a", file("one", 0644), "sub/b", file("two", 0400)))).isFalse();
    assertThat(timestamped()).isEqualTo(first);

    // A file a reader opened before the update still reads the old content after it.
    try (var before = Files.newBufferedReader(dir.resolve("a"))) {
      assertThat(w.write(Map.of("a", file("uno", 0600), "c", file("three", 0644)))).isTrue();
      assertThat(before.readLine()).isEqualTo("one");
    }
    assertThat(Files.readString(dir.resolve("a"))).isEqualTo("uno");
    assertThat(mode(dir.resolve("a"))).isEqualTo(0600);
    assertThat(Files.readString(dir.resolve("c"))).isEqualTo("three");
    assertThat(Files.exists(dir.resolve("sub"), LinkOption.NOFOLLOW_LINKS))
        .as("a key gone from the payload is gone from the volume")
        .isFalse();
    assertThat(timestamped()).hasSize(1).doesNotContainAnyElementsOf(first);
    try (Stream<Path> s = Files.list(dir)) {
      assertThat(s.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("..data", timestamped().get(0), "a", "c");
    }
  }

  @Test
  void fsGroupOwnsWhatIsWrittenAndMayReadIt() throws Exception {
    AtomicWriter w = new AtomicWriter(dir, 2345L, true);
    w.write(
        Map.of(
            "token",
            new FileProjection("t".getBytes(StandardCharsets.UTF_8), 0600, 1234L),
            "ca.crt",
            file("ca", 0644)));
    Path token = dir.resolve("token").toRealPath();
    assertThat(mode(token)).isEqualTo(0640);
    assertThat(Files.getAttribute(token, "unix:uid")).isEqualTo(1234);
    assertThat(Files.getAttribute(token, "unix:gid")).isEqualTo(2345);
    assertThat(mode(dir.resolve("ca.crt"))).isEqualTo(0644);
    Path ts = dir.resolve("..data").toRealPath();
    assertThat(mode(ts) & 02000).as("setgid on directories").isEqualTo(02000);
    // Rewriting the same token changes nothing, though the group bits were added after writing.
    assertThat(
            w.write(
                Map.of(
                    "token",
                    new FileProjection("t".getBytes(StandardCharsets.UTF_8), 0600, 1234L),
                    "ca.crt",
                    file("ca", 0644))))
        .isFalse();
  }

  @Test
  void refusesPathsOutsideTheVolumeOrInTheWritersNames() {
    AtomicWriter w = new AtomicWriter(dir, null, true);
    assertThatThrownBy(() -> w.write(Map.of("../x", file("x", 0644)))).hasMessageContaining("'..'");
    assertThatThrownBy(() -> w.write(Map.of("/etc/x", file("x", 0644))))
        .hasMessageContaining("relative");
    assertThatThrownBy(() -> w.write(Map.of("..data", file("x", 0644))))
        .hasMessageContaining("must not start with '..'");
  }
}
