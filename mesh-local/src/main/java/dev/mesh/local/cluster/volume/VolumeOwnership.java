package dev.mesh.local.cluster.volume;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * What the kubelet's SetVolumeOwnership does for a pod with securityContext.fsGroup: everything in
 * the volume is given to that group, which may read it (and write it, unless the volume is
 * read-only); directories get the setgid bit, so that new files belong to the group too.
 */
final class VolumeOwnership {
  private VolumeOwnership() {}

  private static final int SETGID = 02000;
  private static final int EXEC = 0110;

  /** The mode bits added to a file: read for owner and group, write too on a writable volume. */
  static int mask(boolean readOnly) {
    return readOnly ? 0440 : 0660;
  }

  static void apply(Path root, long fsGroup, boolean readOnly) throws IOException {
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.toList()) {
        Files.setAttribute(p, "unix:gid", (int) fsGroup, LinkOption.NOFOLLOW_LINKS);
        if (Files.isSymbolicLink(p)) {
          continue; // a link's mode means nothing; its target is walked on its own
        }
        int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
        int add = mask(readOnly) | (Files.isDirectory(p) ? SETGID | EXEC : 0);
        Files.setAttribute(p, "unix:mode", mode | add, LinkOption.NOFOLLOW_LINKS);
      }
    }
  }
}
