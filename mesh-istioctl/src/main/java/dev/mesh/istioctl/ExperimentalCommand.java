package dev.mesh.istioctl;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** istioctl experimental (x): describe pod, authz check. */
@Command(
    name = "experimental",
    aliases = "x",
    mixinStandardHelpOptions = true,
    description = "Experimental commands, as istioctl's: describe pod, authz check.",
    subcommands = {ExperimentalCommand.Describe.class, ExperimentalCommand.Authz.class})
final class ExperimentalCommand extends GroupCommand {

  @Command(
      name = "describe",
      aliases = "des",
      mixinStandardHelpOptions = true,
      description = "Describes a resource and the Istio configuration that affects it.",
      subcommands = DescribePodCommand.class)
  static final class Describe extends GroupCommand {}

  @Command(
      name = "authz",
      mixinStandardHelpOptions = true,
      description = "Inspects the AuthorizationPolicies in force in a proxy.",
      subcommands = AuthzCheckCommand.class)
  static final class Authz extends GroupCommand {}

  /**
   * Under {@code x}, a wrong command line is told in one line (what was wrong, and where help is),
   * as istioctl's cobra does, rather than with the whole usage.
   */
  static int oneLineError(CommandLine.ParameterException e, String[] args) {
    CommandLine cmd = e.getCommandLine();
    String path = qualifiedName(cmd);
    String what = e.getMessage();
    if (e instanceof CommandLine.UnmatchedArgumentException u
        && !cmd.getSubcommands().isEmpty()
        && !u.getUnmatched().isEmpty()) {
      what =
          "unknown command '"
              + u.getUnmatched().get(0)
              + "' (use "
              + String.join(
                  " or ",
                  cmd.getCommandSpec().subcommands().values().stream()
                      .map(c -> c.getCommandName())
                      .distinct()
                      .toList())
              + ")";
    }
    cmd.getErr().println(path + ": " + what + "; see '" + path + " --help'");
    return cmd.getCommandSpec().exitCodeOnInvalidInput();
  }

  /** Whether the command is {@code x} or one under it. */
  static boolean isUnder(CommandLine cmd) {
    for (CommandLine c = cmd; c != null; c = c.getParent()) {
      if (c.getCommand() instanceof ExperimentalCommand) {
        return true;
      }
    }
    return false;
  }

  private static String qualifiedName(CommandLine cmd) {
    return cmd.getCommandSpec().qualifiedName();
  }
}
