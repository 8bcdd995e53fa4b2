package dev.mesh.istioctl;

import dev.mesh.inject.InjectionSettings;
import dev.mesh.inject.KubeInject;
import dev.mesh.inject.SidecarInjector;
import dev.mesh.inject.SidecarTemplate;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** istioctl kube-inject: the webhook's injection, applied to YAML on the command line. */
@Command(
    name = "kube-inject",
    mixinStandardHelpOptions = true,
    description = {
      "Adds the sidecar to the workloads of Kubernetes YAML (Pod, Deployment, ReplicaSet,"
          + " StatefulSet, DaemonSet, Job, CronJob, and those in a List), as the webhook would;"
          + " other documents pass through unchanged. Injecting twice equals injecting once.",
      "Example: meshctl kube-inject -f app.yaml | kubectl apply -f -"
    })
final class KubeInjectCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(
      names = {"-f", "--filename"},
      required = true,
      description = "the YAML to inject, or - for standard input")
  String file;

  @Option(
      names = "--injectConfigFile",
      description =
          "the sidecar template to use (the template, or the injection ConfigMap from install/mesh.yaml)")
  Path injectConfigFile;

  @Option(
      names = "--meshConfigFile",
      description =
          "MeshConfig YAML (or the mesh ConfigMap): defaultConfig.discoveryAddress, interceptionMode, holdApplicationUntilProxyStarts, trustDomain")
  Path meshConfigFile;

  @Option(
      names = {"-o", "--output"},
      description = "write the result here instead of standard output")
  Path output;

  @Override
  public Integer call() {
    try {
      String yaml =
          file.equals("-")
              ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
              : Files.readString(Path.of(file));
      InjectionSettings settings = InjectionSettings.defaults();
      if (meshConfigFile != null) {
        settings = settings.withMeshConfig(Files.readString(meshConfigFile));
      }
      SidecarTemplate template =
          injectConfigFile == null
              ? SidecarTemplate.builtIn()
              : SidecarTemplate.fromFile(Files.readString(injectConfigFile));
      String injected =
          new KubeInject(new SidecarInjector(template, settings), settings).inject(yaml);
      if (output != null) {
        Files.writeString(output, injected);
      } else {
        spec.commandLine().getOut().print(injected);
        spec.commandLine().getOut().flush();
      }
      return 0;
    } catch (IOException e) {
      spec.commandLine()
          .getErr()
          .println("meshctl kube-inject: cannot read or write: " + e.getMessage());
      return 1;
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("meshctl kube-inject: " + e.getMessage());
      return 1;
    }
  }
}
