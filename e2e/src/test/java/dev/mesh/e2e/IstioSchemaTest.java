package dev.mesh.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.local.cluster.ImageTable;
import dev.mesh.local.cluster.LocalCluster;
import dev.mesh.local.kube.KubeBinaries;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * install/mesh.yaml's CustomResourceDefinitions as a real API server enforces them, through the
 * kubectl users have: their structural schemas refuse a wrong type or an enum value outside the
 * schema, and an unknown field is refused by {@code --validate=strict} naming it, or pruned with a
 * warning by {@code --validate=warn}.
 */
class IstioSchemaTest {
  static LocalCluster cluster;
  static Path work;

  @BeforeAll
  static void start() throws Exception {
    KubeBinaries binaries = KubeBinaries.pinned();
    if (!binaries.present()) {
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(binaries.describeMissing());
      }
      Assumptions.abort("no real control plane here: " + binaries.describeMissing());
    }
    cluster = LocalCluster.start("schema", new ImageTable(), LocalCluster.Api.KUBERNETES);
    work = Files.createTempDirectory(cluster.state(), "yaml-");
    // The CRDs alone: the Deployments' pods are not what this test is about.
    String mesh = Files.readString(Path.of("..", "install", "mesh.yaml"));
    StringBuilder crds = new StringBuilder();
    for (String doc : mesh.split("(?m)^---\\s*$")) {
      if (doc.contains("kind: \"CustomResourceDefinition\"")
          || doc.contains("kind: CustomResourceDefinition")) {
        crds.append("---\n").append(doc.strip()).append('\n');
      }
    }
    Result applied = kubectl("apply", "-f", write("crds.yaml", crds.toString()));
    assertThat(applied.exit).as(applied.out).isZero();
    Result established =
        kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all");
    assertThat(established.exit).as(established.out).isZero();
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  record Result(int exit, String out) {}

  static Result kubectl(String... args) throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                KubeBinaries.pinned().binary("kubectl").toString(),
                "--kubeconfig",
                cluster.kubeconfig().toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(90, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("kubectl " + String.join(" ", args) + " did not end in 90 s");
    }
    return new Result(p.exitValue(), out);
  }

  static String write(String name, String yaml) throws IOException {
    Path f = work.resolve(name);
    Files.writeString(f, yaml);
    return f.toString();
  }

  static final String TYPO =
      """
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: reviews-typo, namespace: default}
      spec:
        hosts: [reviews]
        http:
        - timeoutt: 5s
          route:
          - destination: {host: reviews}
      """;

  @Test
  void strictValidationRefusesAnUnknownFieldNamingIt() throws Exception {
    Result r = kubectl("apply", "--validate=strict", "-f", write("typo.yaml", TYPO));
    assertThat(r.exit).as(r.out).isNotZero();
    assertThat(r.out).contains("unknown field \"spec.http[0].timeoutt\"");
    assertThat(kubectl("get", "virtualservice", "reviews-typo").exit).isNotZero();
  }

  @Test
  void withoutStrictValidationAnUnknownFieldIsPrunedWithAWarning() throws Exception {
    Result r =
        kubectl(
            "apply",
            "--validate=warn",
            "-f",
            write("typo-warn.yaml", TYPO.replace("reviews-typo", "reviews-pruned")));
    assertThat(r.exit).as(r.out).isZero();
    assertThat(r.out).contains("Warning").contains("unknown field \"spec.http[0].timeoutt\"");
    // The spec as stored (kubectl's last-applied annotation keeps what the user wrote).
    Result stored = kubectl("get", "virtualservice", "reviews-pruned", "-o", "jsonpath={.spec}");
    assertThat(stored.exit).as(stored.out).isZero();
    assertThat(stored.out).contains("\"host\":\"reviews\"").doesNotContain("timeoutt");
  }

  @Test
  void aWrongTypeIsRefusedByTheApiServer() throws Exception {
    Result r =
        kubectl(
            "apply",
            "--validate=false",
            "-f",
            write(
                "type.yaml",
                """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: reviews-type, namespace: default}
                spec:
                  hosts: reviews
                """));
    assertThat(r.exit).as(r.out).isNotZero();
    assertThat(r.out).contains("spec.hosts").contains("must be of type array");
  }

  @Test
  void anEnumValueOutsideTheSchemaIsRefusedByTheApiServer() throws Exception {
    Result r =
        kubectl(
            "apply",
            "--validate=false",
            "-f",
            write(
                "enum.yaml",
                """
                apiVersion: security.istio.io/v1
                kind: PeerAuthentication
                metadata: {name: strictest, namespace: default}
                spec:
                  mtls: {mode: STRICTEST}
                """));
    assertThat(r.exit).as(r.out).isNotZero();
    assertThat(r.out).contains("spec.mtls.mode").contains("Unsupported value: \"STRICTEST\"");
  }
}
