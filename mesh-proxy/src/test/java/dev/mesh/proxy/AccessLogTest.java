package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Access logs in the formats Istio's accessLogFormat and Envoy's log_format write. */
class AccessLogTest {
  @TempDir Path dir;
  TestUpstream app;
  ProxyFixture proxy;

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    if (app != null) {
      app.close();
    }
  }

  private String withAccessLog(String logFormat) {
    String routes =
        """
        - name: all
          domains: ["*"]
          routes: [{name: to-app, match: {prefix: "/"}, route: {cluster: "outbound|80||app.default.svc.cluster.local"}}]
        """;
    String yaml =
        Bootstraps.http(
            routes, Bootstraps.cluster("outbound|80||app.default.svc.cluster.local", app.port()));
    String log =
        """
        access_log:
        - name: envoy.access_loggers.file
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
            path: %s
            log_format:
        %s
        """
            .formatted(dir.resolve("access.log"), logFormat.indent(6).stripTrailing());
    // Replace the stdout access log the test bootstrap has with this one.
    int from = yaml.indexOf("          access_log:");
    int to = yaml.indexOf("          route_config:");
    return yaml.substring(0, from) + log.indent(10) + yaml.substring(to);
  }

  private List<String> lines() throws Exception {
    Path file = dir.resolve("access.log");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while ((!Files.exists(file) || Files.readAllLines(file).isEmpty())
        && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    return Files.readAllLines(file);
  }

  @Test
  void aTextFormatWithIstiosOperators() throws Exception {
    app = TestUpstream.echo("app");
    proxy =
        new ProxyFixture(
            withAccessLog(
                """
                text_format_source:
                  inline_string: "[%START_TIME%] \\"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% \\"%REQ(USER-AGENT)%\\" \\"%UPSTREAM_HOST%\\" %UPSTREAM_CLUSTER% %ROUTE_NAME% %REQ(X-TEST):3%\\n"
                """));
    RawHttp.exchange(
        proxy.port("http"),
        "GET /items?id=7 HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8\r\nx-test: abcdef\r\n\r\n");
    assertThat(lines())
        .singleElement()
        .asString()
        .matches("\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] .*")
        .endsWith(
            "\"GET /items?id=7 HTTP/1.1\" 200 - via_upstream \"curl/8\" \"127.0.0.1:"
                + app.port()
                + "\" outbound|80||app.default.svc.cluster.local to-app abc");
  }

  @Test
  void aJsonFormat() throws Exception {
    app = TestUpstream.echo("app");
    proxy =
        new ProxyFixture(
            withAccessLog(
                """
                json_format:
                  status: "%RESPONSE_CODE%"
                  path: "%REQ(:PATH)%"
                  flags: "%RESPONSE_FLAGS%"
                """));
    proxy.get("http", "/json");
    assertThat(lines()).containsExactly("{\"status\":\"200\",\"path\":\"/json\",\"flags\":null}");
  }

  @Test
  void anUnknownOperatorIsRefusedByName() {
    app = null;
    assertThatThrownBy(
            () ->
                new ProxyFixture(
                    withAccessLogFor(
                        "text_format_source: {inline_string: \"%DYNAMIC_METADATA(x)%\"}")))
        .hasMessageContaining("%DYNAMIC_METADATA%");
  }

  private String withAccessLogFor(String format) throws Exception {
    app = TestUpstream.echo("app");
    return withAccessLog(format);
  }
}
