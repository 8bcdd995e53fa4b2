package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** /drain_listeners as the agent uses it on SIGTERM: inbound only, graceful or not. */
class DrainTest {
  TestUpstream app;
  ProxyFixture proxy;

  @BeforeEach
  void upstream() throws Exception {
    app = TestUpstream.echo("app");
  }

  @AfterEach
  void stop() {
    proxy.close();
    app.close();
  }

  private String twoListeners() {
    String one =
        Bootstraps.http(
            """
        - name: all
          domains: ["*"]
          routes: [{match: {prefix: "/"}, route: {cluster: a}}]
        """,
            Bootstraps.cluster("a", app.port()));
    // An inbound and an outbound copy of the same listener.
    String inbound = one.replace("- name: http\n", "- name: in\n    traffic_direction: INBOUND\n");
    int at = inbound.indexOf("  clusters:");
    String listenerBlock =
        inbound
            .substring(inbound.indexOf("  - name: in"), at)
            .replace("- name: in\n", "- name: out\n")
            .replace("traffic_direction: INBOUND", "traffic_direction: OUTBOUND");
    return inbound.substring(0, at) + listenerBlock + inbound.substring(at);
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket("127.0.0.1", port)) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Test
  void drainingInboundOnlyStopsNewInboundConnectionsAndKeepsTheRest() throws Exception {
    proxy = new ProxyFixture(twoListeners());
    int in = proxy.port("in");
    int out = proxy.port("out");
    try (RawHttp open = new RawHttp(in)) {
      open.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(open.readResponse()).startsWith("HTTP/1.1 200");
      assertThat(proxy.admin("POST", "/drain_listeners?inboundonly").statusCode()).isEqualTo(200);
      assertThatThrownBy(() -> new Socket("127.0.0.1", in).close())
          .isInstanceOf(ConnectException.class);
      // The connection opened before the drain still carries requests.
      open.send("GET /during HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(open.readResponse()).startsWith("HTTP/1.1 200").contains("app GET /during");
    }
    assertThat(accepts(out)).isTrue();
    assertThat(proxy.admin("GET", "/ready").statusCode()).isEqualTo(503);
  }

  @Test
  void aGracefulImmediateDrainClosesConnectionsThenStopsAccepting() throws Exception {
    proxy = new ProxyFixture(twoListeners(), Duration.ofMillis(500), true);
    int in = proxy.port("in");
    assertThat(proxy.admin("POST", "/drain_listeners?inboundonly&graceful").statusCode())
        .isEqualTo(200);
    // During the drain time new connections are still served, and told to close.
    try (RawHttp c = new RawHttp(in)) {
      c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(c.readResponse()).startsWith("HTTP/1.1 200").contains("connection: close");
      assertThat(c.closedByPeer()).isTrue();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (accepts(in) && System.nanoTime() < deadline) {
      Thread.sleep(20); // poll interval, bounded by the deadline
    }
    assertThat(accepts(in)).isFalse();
    assertThat(accepts(proxy.port("out"))).isTrue();
  }
}
