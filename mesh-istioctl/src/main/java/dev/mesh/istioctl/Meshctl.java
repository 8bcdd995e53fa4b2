package dev.mesh.istioctl;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * meshctl, the mesh's command line, shaped like istioctl.
 *
 * <p>Exit codes: 0 done; 1 the command could not do what was asked (the message says why); 2 the
 * command line itself was wrong (usage is printed).
 */
@Command(
    name = "meshctl",
    mixinStandardHelpOptions = true,
    versionProvider = VersionCommand.class,
    description = "The command line of the mesh: Istio's habits, our own mesh.",
    subcommands = {
      VersionCommand.class,
      KubeInjectCommand.class,
      InstallCommand.Install.class,
      InstallCommand.Uninstall.class,
      ProxyStatusCommand.class,
      ProxyConfigCommand.class,
      AnalyzeCommand.class,
      ExperimentalCommand.class,
      DemoCommand.class,
      CommandLine.HelpCommand.class
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:done",
      "1:the command could not do what was asked; the message says why",
      "2:the command line was wrong; usage is printed"
    })
public final class Meshctl extends GroupCommand {

  public static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Meshctl());
    CommandLine.IParameterExceptionHandler usage = cli.getParameterExceptionHandler();
    cli.setParameterExceptionHandler(
        (e, args) ->
            ExperimentalCommand.isUnder(e.getCommandLine())
                ? ExperimentalCommand.oneLineError(e, args)
                : usage.handleParseException(e, args));
    return cli;
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }
}
