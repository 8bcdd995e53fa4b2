package dev.mesh.local.kube;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Kubernetes' control-plane binaries of the pinned releases, as {@code install/kube/build.sh}
 * builds them: where they are and whether they are there. The versions come from {@code
 * install/kube/versions.env}, the file the script reads too (copied onto the classpath at build
 * time), so both always agree on the cache directory.
 */
public final class KubeBinaries {
  /** What the script builds, by file name. */
  public static final List<String> NAMES =
      List.of("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl");

  /** The script that builds them, from the repository's root. */
  public static final String BUILD_SCRIPT = "install/kube/build.sh";

  private static final String VERSIONS = "versions.env";

  private final String kubernetesVersion;
  private final String etcdVersion;
  private final Path cache;

  KubeBinaries(String kubernetesVersion, String etcdVersion, Path cache) {
    this.kubernetesVersion = kubernetesVersion;
    this.etcdVersion = etcdVersion;
    this.cache = cache;
  }

  /** The pinned releases, in the cache the script uses ({@code MESH_KUBE_CACHE} or its default). */
  public static KubeBinaries pinned() {
    Map<String, String> versions = readVersions();
    return new KubeBinaries(
        versions.get("KUBE_VERSION"), versions.get("ETCD_VERSION"), cacheRoot(System.getenv()));
  }

  /** As build.sh: {@code ${MESH_KUBE_CACHE:-$HOME/.cache/mesh/kube}}. */
  static Path cacheRoot(Map<String, String> env) {
    String explicit = env.get("MESH_KUBE_CACHE");
    if (explicit != null && !explicit.isEmpty()) {
      return Path.of(explicit);
    }
    String home = env.getOrDefault("HOME", System.getProperty("user.home"));
    return Path.of(home, ".cache", "mesh", "kube");
  }

  /** Kubernetes' version, as {@code kubectl version} and the API server's /version report it. */
  public String kubernetesVersion() {
    return kubernetesVersion;
  }

  /** etcd's version, e.g. {@code v3.7.3}. */
  public String etcdVersion() {
    return etcdVersion;
  }

  /** The directory of this pair of releases in the cache; the binaries are in its {@code bin/}. */
  public Path releaseDir() {
    return cache.resolve(kubernetesVersion + "-etcd" + etcdVersion);
  }

  public Path binDir() {
    return releaseDir().resolve("bin");
  }

  /** One binary's path, e.g. {@code binary("kube-apiserver")}; it may not exist yet. */
  public Path binary(String name) {
    if (!NAMES.contains(name)) {
      throw new IllegalArgumentException(name + " is none of " + NAMES);
    }
    return binDir().resolve(name);
  }

  /** The binaries that are not there (empty once the script has built them all). */
  public List<String> missing() {
    return NAMES.stream().filter(n -> !Files.isExecutable(binDir().resolve(n))).toList();
  }

  public boolean present() {
    return missing().isEmpty();
  }

  /** What the script recorded of the cold build that made them (its time), if it did. */
  public Optional<String> buildTime() {
    try {
      return Optional.of(Files.readString(releaseDir().resolve("build-time")).strip());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Says what is missing and how to build it, for a test's skip or an error. */
  public String describeMissing() {
    return "Kubernetes "
        + kubernetesVersion
        + " / etcd "
        + etcdVersion
        + " binaries missing in "
        + binDir()
        + " ("
        + String.join(", ", missing())
        + "): build them with "
        + BUILD_SCRIPT
        + " (needs Go 1.26), or run ./mvnw verify without -Dmesh.kube.skip";
  }

  private static Map<String, String> readVersions() {
    try (InputStream in = KubeBinaries.class.getResourceAsStream(VERSIONS)) {
      if (in == null) {
        throw new IllegalStateException(
            VERSIONS
                + " is not on the classpath: mesh-local's build copies install/kube/"
                + VERSIONS);
      }
      return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The {@code NAME=value} lines of a shell environment file; comments and blanks ignored. */
  static Map<String, String> parse(String env) {
    Map<String, String> values = new HashMap<>();
    for (String line : env.split("\n")) {
      String l = line.strip();
      int eq = l.indexOf('=');
      if (l.isEmpty() || l.startsWith("#") || eq < 1) {
        continue;
      }
      values.put(l.substring(0, eq), l.substring(eq + 1).replaceAll("^\"|\"$", ""));
    }
    for (String required : List.of("KUBE_VERSION", "ETCD_VERSION")) {
      if (!values.containsKey(required)) {
        throw new IllegalStateException(VERSIONS + " sets no " + required);
      }
    }
    return values;
  }
}
