package dev.mesh.proxy.config;

import io.envoyproxy.envoy.config.core.v3.DataSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Envoy's DataSource: inline text or bytes, or a file read when the config is loaded. */
public final class DataSources {
  private DataSources() {}

  public static byte[] bytes(DataSource source, String where) {
    return switch (source.getSpecifierCase()) {
      case INLINE_STRING -> source.getInlineString().getBytes(StandardCharsets.UTF_8);
      case INLINE_BYTES -> source.getInlineBytes().toByteArray();
      case FILENAME -> {
        try {
          yield Files.readAllBytes(Path.of(source.getFilename()));
        } catch (IOException e) {
          throw new ConfigRejectedException(where + ": cannot read " + source.getFilename(), e);
        }
      }
      default -> new byte[0];
    };
  }

  public static String text(DataSource source, String where) {
    return new String(bytes(source, where), StandardCharsets.UTF_8);
  }
}
