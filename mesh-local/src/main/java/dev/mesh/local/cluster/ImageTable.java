package dev.mesh.local.cluster;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What an image is in the local cluster: no image is pulled; an image name maps to files on this
 * machine (paths inside the image replaced by world-readable copies), an entrypoint, and the
 * environment the image would set. A container's command and args are run as written, with the
 * image's paths mapped.
 */
public final class ImageTable {
  /** One image: in-image path prefixes to local paths, its entrypoint and its environment. */
  public record Image(
      Map<String, String> paths, List<String> entrypoint, Map<String, String> env) {}

  private final Map<String, Image> images = new LinkedHashMap<>();

  public ImageTable add(String name, Image image) {
    images.put(name, image);
    return this;
  }

  public Image image(String name) {
    Image i = images.get(name);
    if (i == null) {
      throw new IllegalArgumentException(
          "image "
              + name
              + " is not in the local image table ("
              + String.join(", ", images.keySet())
              + ")");
    }
    return i;
  }

  /** The command line of a container of {@code image} with Kubernetes' command and args. */
  public List<String> commandLine(String image, List<String> command, List<String> args) {
    Image i = image(image);
    List<String> out = new ArrayList<>();
    for (String part : command == null || command.isEmpty() ? i.entrypoint() : command) {
      out.add(map(i, part));
    }
    if (args != null) {
      for (String a : args) {
        out.add(map(i, a));
      }
    }
    return out;
  }

  private static String map(Image i, String part) {
    if (part.equals("java")) {
      return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
    for (var e : i.paths().entrySet()) {
      if (part.startsWith(e.getKey())) {
        return e.getValue() + part.substring(e.getKey().length());
      }
    }
    return part;
  }
}
