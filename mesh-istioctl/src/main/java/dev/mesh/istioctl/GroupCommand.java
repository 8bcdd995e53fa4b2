package dev.mesh.istioctl;

import picocli.CommandLine;

/** A command that only groups others (meshctl, x, x describe, x authz): alone, it prints usage. */
abstract class GroupCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }
}
