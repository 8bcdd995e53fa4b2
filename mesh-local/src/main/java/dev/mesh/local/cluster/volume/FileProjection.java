package dev.mesh.local.cluster.volume;

import java.util.Arrays;

/**
 * One file of a volume's payload, as Kubernetes' {@code volumeutil.FileProjection}: its bytes, its
 * mode and, for projected service-account tokens, the user that owns it (null: root).
 */
public record FileProjection(byte[] data, int mode, Long fsUser) {

  public FileProjection {
    data = data.clone();
  }

  public static FileProjection of(byte[] data, int mode) {
    return new FileProjection(data, mode, null);
  }

  @Override
  public byte[] data() {
    return data.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FileProjection f
        && Arrays.equals(data, f.data)
        && mode == f.mode
        && java.util.Objects.equals(fsUser, f.fsUser);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(data) * 31 + mode;
  }

  @Override
  public String toString() {
    return "FileProjection[" + data.length + " bytes, mode " + Integer.toOctalString(mode) + "]";
  }
}
