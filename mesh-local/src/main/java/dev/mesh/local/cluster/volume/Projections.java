package dev.mesh.local.cluster.volume;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.DownwardAPIVolumeFile;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceFieldSelector;
import io.fabric8.kubernetes.api.model.Secret;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The files of configMap, secret and downwardAPI sources, as the kubelet's plugins make them (their
 * MakePayload and CollectData): every key, or the listed items with their modes; a missing key
 * fails the volume unless the source is optional.
 */
final class Projections {
  private Projections() {}

  /** The API's default for defaultMode and mode: 0644. */
  static final int DEFAULT_MODE = 0644;

  private static final Pattern SUBSCRIPT =
      Pattern.compile("metadata\\.(labels|annotations)\\['([^']+)'\\]");

  /** A configMap's files; {@code cm} null when an optional one does not exist (no files). */
  static Map<String, FileProjection> configMap(
      ConfigMap cm, List<KeyToPath> items, int defaultMode, boolean optional, String what) {
    Map<String, byte[]> data = new LinkedHashMap<>();
    if (cm != null) {
      if (cm.getData() != null) {
        cm.getData().forEach((k, v) -> data.put(k, v.getBytes(StandardCharsets.UTF_8)));
      }
      if (cm.getBinaryData() != null) {
        cm.getBinaryData().forEach((k, v) -> data.put(k, Base64.getDecoder().decode(v)));
      }
    }
    return payload(data, items, defaultMode, optional, what);
  }

  /** A secret's files (its data is base64 in the API). */
  static Map<String, FileProjection> secret(
      Secret s, List<KeyToPath> items, int defaultMode, boolean optional, String what) {
    Map<String, byte[]> data = new LinkedHashMap<>();
    if (s != null) {
      if (s.getData() != null) {
        s.getData().forEach((k, v) -> data.put(k, Base64.getDecoder().decode(v)));
      }
      // Only ever set on a write; the mock API may keep it as given.
      if (s.getStringData() != null) {
        s.getStringData().forEach((k, v) -> data.put(k, v.getBytes(StandardCharsets.UTF_8)));
      }
    }
    return payload(data, items, defaultMode, optional, what);
  }

  private static Map<String, FileProjection> payload(
      Map<String, byte[]> data,
      List<KeyToPath> items,
      int defaultMode,
      boolean optional,
      String what) {
    Map<String, FileProjection> out = new TreeMap<>();
    if (items == null || items.isEmpty()) {
      data.forEach((k, v) -> out.put(k, FileProjection.of(v, defaultMode)));
      return out;
    }
    for (KeyToPath item : items) {
      byte[] value = data.get(item.getKey());
      if (value == null) {
        if (optional) {
          continue;
        }
        throw new IllegalStateException(what + " has no key " + item.getKey());
      }
      out.put(
          item.getPath(),
          FileProjection.of(value, item.getMode() == null ? defaultMode : item.getMode()));
    }
    return out;
  }

  /** A downwardAPI source's files: fields of the pod's metadata, containers' resources. */
  static Map<String, FileProjection> downwardApi(
      Pod pod, List<DownwardAPIVolumeFile> items, int defaultMode, String what) {
    Map<String, FileProjection> out = new TreeMap<>();
    for (DownwardAPIVolumeFile item : items == null ? List.<DownwardAPIVolumeFile>of() : items) {
      String value;
      if (item.getFieldRef() != null) {
        value = field(pod, item.getFieldRef().getFieldPath(), what);
      } else if (item.getResourceFieldRef() != null) {
        value = resource(pod, item.getResourceFieldRef(), what);
      } else {
        throw new IllegalStateException(what + ": item " + item.getPath() + " selects nothing");
      }
      out.put(
          item.getPath(),
          FileProjection.of(
              value.getBytes(StandardCharsets.UTF_8),
              item.getMode() == null ? defaultMode : item.getMode()));
    }
    return out;
  }

  private static String field(Pod pod, String path, String what) {
    var meta = pod.getMetadata();
    Matcher m = SUBSCRIPT.matcher(path);
    if (m.matches()) {
      Map<String, String> map =
          m.group(1).equals("labels") ? meta.getLabels() : meta.getAnnotations();
      return map == null ? "" : map.getOrDefault(m.group(2), "");
    }
    return switch (path) {
      case "metadata.name" -> meta.getName();
      case "metadata.namespace" -> meta.getNamespace();
      case "metadata.uid" -> meta.getUid() == null ? "" : meta.getUid();
      case "metadata.labels" -> formatMap(meta.getLabels());
      case "metadata.annotations" -> formatMap(meta.getAnnotations());
      default ->
          throw new IllegalStateException(
              what + ": fieldRef " + path + " is not supported in a volume");
    };
  }

  /** Kubernetes' fieldpath.FormatMap: {@code key="value"} lines sorted by key, Go-quoted. */
  static String formatMap(Map<String, String> map) {
    if (map == null || map.isEmpty()) {
      return "";
    }
    StringBuilder out = new StringBuilder();
    new TreeMap<>(map)
        .forEach(
            (k, v) ->
                out.append(out.length() == 0 ? "" : "\n").append(k).append('=').append(quote(v)));
    return out.toString();
  }

  /** A Go {@code %q} string literal of the value. */
  private static String quote(String v) {
    StringBuilder q = new StringBuilder("\"");
    v.codePoints()
        .forEach(
            c -> {
              switch (c) {
                case '"' -> q.append("\\\"");
                case '\\' -> q.append("\\\\");
                case '\n' -> q.append("\\n");
                case '\t' -> q.append("\\t");
                case '\r' -> q.append("\\r");
                default -> {
                  if (c < 0x20 || c == 0x7f) {
                    q.append(String.format("\\x%02x", c));
                  } else {
                    q.appendCodePoint(c);
                  }
                }
              }
            });
    return q.append('"').toString();
  }

  /**
   * A container's limit or request in units of the divisor, rounded up; a limit not set is the
   * node's allocatable amount, as the downward API reports it.
   */
  private static String resource(Pod pod, ResourceFieldSelector ref, String what) {
    String name = ref.getContainerName();
    Container c =
        Stream.concat(
                pod.getSpec().getContainers().stream(), pod.getSpec().getInitContainers().stream())
            .filter(x -> name == null || x.getName().equals(name))
            .findFirst()
            .orElseThrow(
                () -> new IllegalStateException(what + ": no container " + name + " in the pod"));
    String resource = ref.getResource();
    String[] parts = resource.split("\\.", 2);
    if (parts.length != 2 || !(parts[0].equals("limits") || parts[0].equals("requests"))) {
      throw new IllegalStateException(what + ": resource " + resource + " is not supported");
    }
    var res = c.getResources();
    Map<String, Quantity> limits =
        res == null || res.getLimits() == null ? Map.of() : res.getLimits();
    Map<String, Quantity> requests =
        res == null || res.getRequests() == null ? Map.of() : res.getRequests();
    BigDecimal amount;
    if (parts[0].equals("limits")) {
      Quantity q = limits.get(parts[1]);
      amount = q == null ? allocatable(parts[1], what) : Quantity.getAmountInBytes(q);
    } else {
      Quantity q = requests.getOrDefault(parts[1], limits.get(parts[1]));
      amount = q == null ? BigDecimal.ZERO : Quantity.getAmountInBytes(q);
    }
    BigDecimal divisor =
        ref.getDivisor() == null ? BigDecimal.ONE : Quantity.getAmountInBytes(ref.getDivisor());
    if (divisor.signum() <= 0) {
      throw new IllegalStateException(what + ": divisor must be positive");
    }
    return amount.divide(divisor, 0, RoundingMode.CEILING).toPlainString();
  }

  /** What this machine (the node) offers of a resource. */
  private static BigDecimal allocatable(String resource, String what) {
    return switch (resource) {
      case "cpu" -> BigDecimal.valueOf(Runtime.getRuntime().availableProcessors());
      case "memory" -> BigDecimal.valueOf(memTotal());
      case "ephemeral-storage" -> {
        try {
          yield BigDecimal.valueOf(Files.getFileStore(Path.of("/")).getTotalSpace());
        } catch (IOException e) {
          throw new IllegalStateException(what + ": cannot read the root disk's size", e);
        }
      }
      default ->
          throw new IllegalStateException(what + ": resource " + resource + " is not supported");
    };
  }

  private static long memTotal() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        }
      }
    } catch (IOException e) {
      // below: a node whose memory is unknown reports none
    }
    return 0;
  }
}
