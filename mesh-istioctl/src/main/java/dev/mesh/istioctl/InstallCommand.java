package dev.mesh.istioctl;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * meshctl install and uninstall: install/mesh.yaml against the cluster of the current kubeconfig.
 */
final class InstallCommand {
  private InstallCommand() {}

  static final String BUNDLED = "/dev/mesh/istioctl/mesh.yaml";
  static final List<String> WAIT_FOR = List.of("mesh-pilot", "mesh-injector");

  static String manifest(Path file) throws IOException {
    if (file != null) {
      return Files.readString(file);
    }
    try (InputStream in = InstallCommand.class.getResourceAsStream(BUNDLED)) {
      if (in == null) {
        throw new IOException("this meshctl was built without install/mesh.yaml");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static List<HasMetadata> objects(KubernetesClient client, String yaml) {
    return client
        .load(new java.io.ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)))
        .items();
  }

  static String describe(HasMetadata o) {
    String ns = o.getMetadata().getNamespace();
    return o.getKind() + " " + (ns == null ? "" : ns + "/") + o.getMetadata().getName();
  }

  /** Duration as "90s", "5m", "2m30s". */
  static Duration duration(String text) {
    try {
      return Duration.parse("PT" + text.toUpperCase(java.util.Locale.ROOT));
    } catch (java.time.format.DateTimeParseException e) {
      throw new CommandLine.TypeConversionException(
          "'" + text + "' is not a duration such as 90s or 5m");
    }
  }

  @Command(
      name = "install",
      mixinStandardHelpOptions = true,
      description = {
        "Applies install/mesh.yaml (the one this meshctl was built with, or -f) to the cluster of"
            + " the current kubeconfig, then waits until pilot and the injector are ready.",
        "Prints each object it created or updated."
      })
  static final class Install implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--dry-run", description = "print what would be applied, change nothing")
    boolean dryRun;

    @Option(
        names = "--wait",
        arity = "1",
        defaultValue = "true",
        description = "wait until pilot and the injector are ready (default true)")
    boolean await;

    @Option(names = "--timeout", defaultValue = "5m", description = "how long to wait (default 5m)")
    String timeout;

    @Option(
        names = {"-f", "--filename"},
        description = "apply this manifest instead")
    Path file;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      Duration limit;
      try {
        limit = duration(timeout);
      } catch (CommandLine.TypeConversionException e) {
        err.println("meshctl install: --timeout " + e.getMessage());
        return 2;
      }
      try (KubernetesClient client = CurrentCluster.client()) {
        String yaml = manifest(file);
        List<HasMetadata> objects = objects(client, yaml);
        if (dryRun) {
          for (HasMetadata o : objects) {
            out.println("would apply " + describe(o));
          }
          return 0;
        }
        for (HasMetadata o : objects) {
          boolean existed = client.resource(o).get() != null;
          client.resource(o).createOr(NonDeletingOperation::update);
          out.println((existed ? "updated " : "created ") + describe(o));
        }
        out.flush();
        if (await && !waitReady(client, limit, out)) {
          err.println(
              "meshctl install: pilot and the injector were not ready in "
                  + timeout
                  + " (kubectl -n mesh-system get pods says why)");
          return 1;
        }
        out.println("installed: " + objects.size() + " objects");
        return 0;
      } catch (IOException e) {
        err.println("meshctl install: " + e.getMessage());
        return 1;
      } catch (KubernetesClientException e) {
        err.println("meshctl install: " + unreachable(e));
        return 1;
      }
    }

    private static boolean waitReady(KubernetesClient client, Duration limit, PrintWriter out) {
      long deadline = System.nanoTime() + limit.toNanos();
      while (System.nanoTime() < deadline) {
        boolean all = true;
        for (String name : WAIT_FOR) {
          Deployment d =
              client.apps().deployments().inNamespace("mesh-system").withName(name).get();
          Integer ready =
              d == null || d.getStatus() == null ? null : d.getStatus().getReadyReplicas();
          all &= ready != null && ready > 0;
        }
        if (all) {
          out.println("pilot and the injector are ready");
          return true;
        }
        try {
          Thread.sleep(1000); // poll interval, bounded by the deadline
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return false;
    }
  }

  @Command(
      name = "uninstall",
      mixinStandardHelpOptions = true,
      description = "Removes what install applied (install/mesh.yaml, or -f), in reverse order.")
  static final class Uninstall implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--dry-run", description = "print what would be removed, change nothing")
    boolean dryRun;

    @Option(
        names = {"-f", "--filename"},
        description = "remove this manifest's objects instead")
    Path file;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      PrintWriter err = spec.commandLine().getErr();
      try (KubernetesClient client = CurrentCluster.client()) {
        List<HasMetadata> objects = new ArrayList<>(objects(client, manifest(file)));
        Collections.reverse(objects);
        int removed = 0;
        for (HasMetadata o : objects) {
          if (client.resource(o).get() == null) {
            continue;
          }
          if (dryRun) {
            out.println("would remove " + describe(o));
            continue;
          }
          client.resource(o).delete();
          removed++;
          out.println("removed " + describe(o));
        }
        if (!dryRun) {
          out.println("uninstalled: " + removed + " objects removed");
        }
        return 0;
      } catch (IOException e) {
        err.println("meshctl uninstall: " + e.getMessage());
        return 1;
      } catch (KubernetesClientException e) {
        err.println("meshctl uninstall: " + unreachable(e));
        return 1;
      }
    }
  }

  /** What to tell a user whose cluster did not take a request. */
  static String unreachable(KubernetesClientException e) {
    return "the cluster at "
        + io.fabric8.kubernetes.client.Config.autoConfigure(null).getMasterUrl()
        + " refused or did not answer (is KUBECONFIG or kubectl's context right?): "
        + firstLine(e.getMessage())
        + cause(e);
  }

  /** fabric8's "An error has occurred." says nothing: the root cause does. */
  private static String cause(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root == e
        ? ""
        : " (" + root.getClass().getSimpleName() + ": " + firstLine(root.getMessage()) + ")";
  }

  static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
