package dev.mesh.istioctl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class MeshctlTest {

  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    var cli = Meshctl.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return cli.execute(args);
  }

  @Test
  void everySubcommandHasHelp() {
    for (String sub : Meshctl.commandLine().getSubcommands().keySet()) {
      if (sub.equals("help")) {
        continue;
      }
      assertThat(run(sub, "--help")).as(sub).isZero();
    }
    assertThat(out.toString()).contains("Usage: meshctl demo").contains("Usage: meshctl version");
  }

  @Test
  void anUnknownCommandIsAUsageError() {
    assertThat(run("frobnicate")).isEqualTo(2);
    assertThat(err.toString()).contains("Unmatched argument").contains("Usage: meshctl");
  }

  @Test
  void theDemoSaysPlainlyThatItIsNotBuiltYet() {
    assertThat(run("demo", "--for", "60s")).isEqualTo(1);
    assertThat(err.toString()).contains("not built yet");
  }

  @Test
  void versionPrintsOne() {
    assertThat(run("version")).isZero();
    assertThat(out.toString()).startsWith("client version: ");
  }
}
