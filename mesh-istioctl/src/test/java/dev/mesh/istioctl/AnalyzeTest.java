package dev.mesh.istioctl;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalyzeTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int analyze(String yaml) throws Exception {
    Path f = dir.resolve("app.yaml");
    Files.writeString(f, yaml);
    var cli = Meshctl.commandLine();
    cli.setOut(new PrintWriter(out, true));
    cli.setErr(new PrintWriter(err, true));
    return cli.execute("analyze", "-f", f.toString());
  }

  static final String SERVICES =
      """
      apiVersion: v1
      kind: Service
      metadata: {name: reviews, namespace: shop}
      spec: {ports: [{name: http, port: 9080}]}
      ---
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata: {name: reviews, namespace: shop}
      spec:
        host: reviews
        subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
      ---
      """;

  @Test
  void aCleanConfigHasNoIssues() throws Exception {
    assertThat(
            analyze(
                SERVICES
                    + """
                    apiVersion: networking.istio.io/v1
                    kind: VirtualService
                    metadata: {name: reviews, namespace: shop}
                    spec:
                      hosts: [reviews]
                      http:
                      - match: [{headers: {end-user: {exact: jason}}}]
                        route: [{destination: {host: reviews, subset: v2}}]
                      - route: [{destination: {host: reviews.shop.svc.cluster.local, subset: v1}}]
                    """))
        .isZero();
    assertThat(out.toString()).startsWith("\u2714 No validation issues found");
  }

  @Test
  void missingSubsetsUnknownHostsShadowedRulesAndUnknownFieldsAreFound() throws Exception {
    int code =
        analyze(
            SERVICES
                + """
                apiVersion: networking.istio.io/v1
                kind: VirtualService
                metadata: {name: reviews, namespace: shop}
                spec:
                  hosts: [reviews]
                  http:
                  - match: [{uri: {prefix: /a}}]
                    route: [{destination: {host: reviews, subset: v3}}]
                  - match: [{uri: {prefix: /a}}]
                    route: [{destination: {host: ratings}}]
                  - route: [{destination: {host: reviews, subset: v1}}]
                  - route: [{destination: {host: reviews, subset: v2}}]
                ---
                apiVersion: networking.istio.io/v1
                kind: DestinationRule
                metadata: {name: typo, namespace: shop}
                spec:
                  host: reviews
                  trafficPolicy: {loadBalancr: {simple: ROUND_ROBIN}}
                """);
    assertThat(code).isEqualTo(79);
    assertThat(out.toString())
        .contains(
            "Error [IST0101] (VirtualService shop/reviews) Referenced host+subset in destinationrule not found: \"reviews+v3\"")
        .contains(
            "Error [IST0101] (VirtualService shop/reviews) Referenced host not found: \"ratings\"")
        .contains(
            "Error [IST0129] (VirtualService shop/reviews) VirtualService rule #2 match #1 not used")
        .contains(
            "Error [IST0129] (VirtualService shop/reviews) VirtualService rule #3 not used (only the last rule can have no matches).")
        .contains(
            "Error [IST0106] (DestinationRule shop/typo) Schema validation error: spec.trafficPolicy")
        .contains("loadBalancr");
  }
}
