package dev.mesh.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;

/** The test YAML under src/test/resources, and JSON equality as a user means it. */
final class Samples {
  private Samples() {}

  static Path dir(String name) {
    try {
      return Path.of(Samples.class.getResource("/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static Stream<Path> files(String dir) {
    try {
      return Files.list(dir(dir)).filter(p -> p.toString().endsWith(".yaml")).sorted();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String read(String dir, String file) {
    return read(dir(dir).resolve(file));
  }

  static List<JsonNode> documents(Path file) {
    return IstioResources.readDocuments(read(file));
  }

  /** Equal JSON: numbers compare by value (YAML's 100 and a double's 100.0 are one number). */
  static boolean sameJson(JsonNode a, JsonNode b) {
    return a.equals(NUMERIC, b);
  }

  private static final Comparator<JsonNode> NUMERIC =
      (x, y) -> {
        if (x.isNumber() && y.isNumber()) {
          return x.decimalValue().compareTo(y.decimalValue());
        }
        return x.equals(y) ? 0 : 1;
      };
}
