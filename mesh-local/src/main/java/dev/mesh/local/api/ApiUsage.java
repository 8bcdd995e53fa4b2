package dev.mesh.local.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;

/**
 * What code under test asked of the Kubernetes API, as RBAC sees it: (verb, API group, resource),
 * or (verb, non-resource URL). The mock API server records every request; those whose User-Agent is
 * {@link #AGENT} (what {@link MockApi#use} gives the code under test, not the test's own client)
 * are turned into these, written down per test class, and compared with install/mesh.yaml's RBAC.
 */
public final class ApiUsage {
  private ApiUsage() {}

  public static final String AGENT = "mesh-under-test";

  /**
   * One permission, printed as RBAC would list it: {@code verb group/resource} or {@code verb
   * /url}.
   */
  public record Permission(String verb, String group, String resource)
      implements Comparable<Permission> {
    @Override
    public String toString() {
      return resource.startsWith("/")
          ? verb + " " + resource
          : verb + " " + (group.isEmpty() ? "core" : group) + "/" + resource;
    }

    @Override
    public int compareTo(Permission o) {
      return toString().compareTo(o.toString());
    }

    public static Permission parse(String line) {
      String[] parts = line.strip().split(" ", 2);
      if (parts[1].startsWith("/")) {
        return new Permission(parts[0], "", parts[1]);
      }
      int slash = parts[1].lastIndexOf('/');
      String group = parts[1].substring(0, slash);
      return new Permission(
          parts[0], group.equals("core") ? "" : group, parts[1].substring(slash + 1));
    }
  }

  /** The permission a request needs. */
  public static Permission of(String method, String pathAndQuery) {
    URI uri = URI.create(pathAndQuery);
    String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
    List<String> s = List.of(uri.getPath().replaceAll("^/+", "").split("/"));
    int at;
    String group;
    if (s.size() >= 2 && s.get(0).equals("api")) {
      group = "";
      at = 2;
    } else if (s.size() >= 3 && s.get(0).equals("apis")) {
      group = s.get(1);
      at = 3;
    } else {
      return new Permission(method.equals("GET") ? "get" : method.toLowerCase(), "", uri.getPath());
    }
    List<String> rest = s.subList(Math.min(at, s.size()), s.size());
    String resource;
    boolean named;
    if (rest.size() >= 3 && rest.get(0).equals("namespaces")) {
      resource = rest.get(2);
      named = rest.size() >= 4;
    } else if (!rest.isEmpty()) {
      resource = rest.get(0);
      named = rest.size() >= 2;
    } else {
      return new Permission("get", "", uri.getPath());
    }
    String verb =
        switch (method) {
          case "GET" -> named ? "get" : query.contains("watch=true") ? "watch" : "list";
          case "POST" -> "create";
          case "PUT" -> "update";
          case "PATCH" -> "patch";
          case "DELETE" -> named ? "delete" : "deletecollection";
          default -> method.toLowerCase();
        };
    return new Permission(verb, group, resource);
  }

  /**
   * Takes every request the mock server recorded so far and writes, for {@code testClass}, the
   * permissions the code under test's requests needed (target/api-usage/&lt;class&gt;.txt).
   */
  public static void record(
      io.fabric8.kubernetes.client.server.mock.KubernetesMockServer server, Class<?> testClass) {
    java.util.List<Permission> used = new java.util.ArrayList<>();
    try {
      for (var r = server.takeRequest(10, java.util.concurrent.TimeUnit.MILLISECONDS);
          r != null;
          r = server.takeRequest(10, java.util.concurrent.TimeUnit.MILLISECONDS)) {
        if (AGENT.equals(r.getHeader("User-Agent"))) {
          used.add(of(r.getMethod(), r.getPath()));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    write(Path.of("target", "api-usage", testClass.getSimpleName() + ".txt"), used);
  }

  /** Writes the permissions, sorted, one per line (replacing the file). */
  public static void write(Path file, Collection<Permission> used) {
    try {
      Files.createDirectories(file.getParent());
      StringBuilder b = new StringBuilder();
      new TreeSet<>(used).forEach(p -> b.append(p).append('\n'));
      Files.writeString(file, b.toString());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every permission written under a directory (by every test class that wrote one). */
  public static TreeSet<Permission> read(Path dir) {
    TreeSet<Permission> out = new TreeSet<>();
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        for (String line : Files.readAllLines(f)) {
          if (!line.isBlank()) {
            out.add(Permission.parse(line));
          }
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the API usage under " + dir, e);
    }
    return out;
  }
}
