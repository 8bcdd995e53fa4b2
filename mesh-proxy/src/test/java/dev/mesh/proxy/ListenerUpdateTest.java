package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.proxy.config.BootstrapLoader;
import org.junit.jupiter.api.Test;

/**
 * A listener changed at run time (as LDS will change it) keeps its socket: no refused connections,
 * the same port, new connections on the new filter chains, open ones on theirs.
 */
class ListenerUpdateTest {

  private static String listener(String answer) {
    return Bootstraps.http(
        """
        - name: all
          domains: ["*"]
          routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "%s"}}}]
        """
            .formatted(answer),
        Bootstraps.cluster("unused", 1));
  }

  @Test
  void aChangedListenerSwapsItsChainsOnTheSameSocket() throws Exception {
    try (ProxyFixture proxy = new ProxyFixture(listener("version 1"))) {
      int port = proxy.port("http");
      try (RawHttp open = new RawHttp(port)) {
        open.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(open.readResponse()).endsWith("version 1");

        var updated = BootstrapLoader.parse(listener("version 2")).getStaticResources();
        proxy.server.listeners().apply(updated.getListenersList());

        assertThat(proxy.port("http")).isEqualTo(port);
        assertThat(RawHttp.exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            .endsWith("version 2");
        // The connection accepted before the update keeps the chain it was given.
        open.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(open.readResponse()).endsWith("version 1");
      }
    }
  }

  @Test
  void theConnectionsOfAReplacedListenerDrainAndCloseAfterTheDrainTime() throws Exception {
    try (ProxyFixture proxy =
        new ProxyFixture(listener("version 1"), java.time.Duration.ofSeconds(1), true)) {
      int port = proxy.port("http");
      try (RawHttp busy = new RawHttp(port);
          RawHttp idle = new RawHttp(port)) {
        busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(busy.readResponse()).endsWith("version 1");
        idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(idle.readResponse()).endsWith("version 1");

        var updated = BootstrapLoader.parse(listener("version 2")).getStaticResources();
        proxy.server.listeners().apply(updated.getListenersList());

        // Draining (immediate strategy): the next response on an old connection asks it to close.
        busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(busy.readResponse()).contains("connection: close").endsWith("version 1");
        assertThat(busy.closedByPeer()).isTrue();
        // A connection that sends nothing more is closed when the drain time is over.
        long start = System.nanoTime();
        assertThat(idle.closedByPeer()).isTrue();
        assertThat(java.time.Duration.ofNanos(System.nanoTime() - start))
            .isLessThan(java.time.Duration.ofSeconds(5));
        assertThat(RawHttp.exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
            .endsWith("version 2");
      }
    }
  }
}
