package dev.mesh.istioctl;

import java.io.PrintWriter;
import java.io.StringWriter;

/** meshctl run in this JVM as a user runs it: its exit code and what it printed to each stream. */
record MeshctlRun(int code, String out, String err) {
  static MeshctlRun meshctl(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    var cli = Meshctl.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    int code = cli.execute(args);
    return new MeshctlRun(code, out.toString(), err.toString());
  }
}
