package dev.mesh.istioctl;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

@Command(
    name = "version",
    mixinStandardHelpOptions = true,
    description = "Prints the version of meshctl.")
final class VersionCommand implements Callable<Integer>, CommandLine.IVersionProvider {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  static String version() {
    String v = Meshctl.class.getPackage().getImplementationVersion();
    return v == null ? "dev" : v;
  }

  @Override
  public String[] getVersion() {
    return new String[] {"meshctl " + version()};
  }

  @Override
  public Integer call() {
    spec.commandLine().getOut().println("client version: " + version());
    return 0;
  }
}
