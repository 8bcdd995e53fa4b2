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
    assertThat(run("xyzzy")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Unmatched argument")
        .containsAnyOf("Usage: meshctl", "Did you mean");
  }

  @Test
  void theDemoWithoutRootSaysWhyItNeedsRoot() {
    // As a user without root, meshctl run as a process (uid 1000) from a readable copy.
    dev.mesh.local.netns.Host.Result r =
        dev.mesh.local.netns.Host.run(
            "setpriv",
            "--reuid=1000",
            "--regid=1000",
            "--clear-groups",
            dev.mesh.local.netns.NetworkNamespace.javaBinary(),
            "-cp",
            dev.mesh.local.netns.ReadableCopy.classPath(),
            Meshctl.class.getName(),
            "demo",
            "--for",
            "60s");
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.stderr()).contains("meshctl demo needs root").doesNotContain("Exception");
    assertThat(run("demo", "--for", "soon")).isEqualTo(2);
  }

  @Test
  void versionPrintsOne() {
    assertThat(run("version")).isZero();
    assertThat(out.toString()).startsWith("client version: ");
  }

  @Test
  void kubeInjectInjectsAFileAndSaysWhatIsWrongWithABadOne(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path app = dir.resolve("app.yaml");
    java.nio.file.Files.writeString(
        app,
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: web, image: web:1}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {ports: [{port: 80}]}
        """);
    java.nio.file.Path mesh = dir.resolve("mesh.yaml");
    java.nio.file.Files.writeString(
        mesh, "defaultConfig: {discoveryAddress: \"pilot.example:15010\"}\n");
    assertThat(run("kube-inject", "-f", app.toString(), "--meshConfigFile", mesh.toString()))
        .isZero();
    assertThat(out.toString())
        .contains("name: \"istio-proxy\"")
        .contains("pilot.example:15010")
        .endsWith("kind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n");

    java.nio.file.Files.writeString(mesh, "defaultConfig: {interceptionMode: SIDEWAYS}\n");
    assertThat(run("kube-inject", "-f", app.toString(), "--meshConfigFile", mesh.toString()))
        .isEqualTo(1);
    assertThat(err.toString())
        .contains("meshctl kube-inject: mesh config defaultConfig.interceptionMode");
    assertThat(run("kube-inject", "-f", dir.resolve("missing.yaml").toString())).isEqualTo(1);
    assertThat(err.toString()).contains("cannot read");
    assertThat(run("kube-inject")).isEqualTo(2);
  }
}
