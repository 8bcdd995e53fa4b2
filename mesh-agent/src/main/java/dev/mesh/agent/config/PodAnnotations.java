package dev.mesh.agent.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The pod's annotations as the istio-podinfo downward API volume writes them (Kubernetes'
 * fieldpath.FormatMap: one {@code key="value"} line each, the value Go-quoted). Istio's agent reads
 * this file for the annotations that change its ProxyConfig after injection, such as
 * status.sidecar.istio.io/port.
 */
final class PodAnnotations {
  private PodAnnotations() {}

  /** Istio's path, in the istio-podinfo volume the injector mounts at /etc/istio/pod. */
  static final Path PATH = Path.of("/etc/istio/pod/annotations");

  /** Mesh's own: where the file is, so that tests can point at one of theirs. */
  static final String PATH_ENV = "MESH_POD_ANNOTATIONS";

  /** The annotations, or none when the file is missing (a pod without the volume). */
  static Map<String, String> read(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      return Map.of();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the pod's annotations at " + file, e);
    }
    Map<String, String> out = new TreeMap<>();
    for (String line : text.split("\n")) {
      int eq = line.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      out.put(line.substring(0, eq), unquote(line.substring(eq + 1), file));
    }
    return out;
  }

  private static String unquote(String quoted, Path file) {
    if (quoted.length() < 2 || quoted.charAt(0) != '"' || !quoted.endsWith("\"")) {
      throw new IllegalArgumentException(file + ": not a quoted value: " + quoted);
    }
    StringBuilder b = new StringBuilder();
    for (int i = 1; i < quoted.length() - 1; i++) {
      char c = quoted.charAt(i);
      if (c != '\\' || i + 1 >= quoted.length() - 1) {
        b.append(c);
        continue;
      }
      char e = quoted.charAt(++i);
      switch (e) {
        case 'n' -> b.append('\n');
        case 't' -> b.append('\t');
        case 'r' -> b.append('\r');
        case 'u' -> {
          b.append((char) Integer.parseInt(quoted.substring(i + 1, i + 5), 16));
          i += 4;
        }
        default -> b.append(e); // \" and \\, and whatever else stands for itself
      }
    }
    return b.toString();
  }
}
