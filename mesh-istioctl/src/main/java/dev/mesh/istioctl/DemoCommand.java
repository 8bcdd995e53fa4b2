package dev.mesh.istioctl;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The README's first command: the whole mesh on the local cluster. Until the local cluster exists
 * it says so and what it will do, rather than pretending.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Starts the mesh on the local cluster (network-namespace pods, no Kubernetes needed),",
      "deploys a Bookinfo-like sample, routes traffic and shows what the mesh did."
    })
final class DemoCommand implements Callable<Integer> {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @CommandLine.Option(
      names = "--for",
      paramLabel = "DURATION",
      description = "Run this long (e.g. 60s), then tear down; default: until Ctrl-C.")
  String runFor;

  @Override
  public Integer call() {
    PrintWriter err = spec.commandLine().getErr();
    err.println("meshctl demo: the local mesh is not built yet, so there is nothing to start.");
    err.println(
        "Built so far: mesh-api (the shared vocabulary) and mesh-config (Istio's resources,");
    err.println("their validation and CRDs). Still to come, in this order: mesh-proxy, xDS");
    err.println("(mesh-pilot), mesh-init and mesh-agent, injection, and the local cluster that");
    err.println("this command runs on. Run ./mvnw verify to build and test what exists.");
    return 1;
  }
}
