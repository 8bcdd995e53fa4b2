package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A listener shaped like Istio's virtualInbound: tls_inspector and http_inspector look at the first
 * bytes, and the chain is chosen by transport protocol, SNI and sniffed application protocol.
 */
class ProtocolSniffingTest {
  @TempDir static Path dir;
  static ExecutorService pool = Executors.newCachedThreadPool();
  static ServerSocket echo;
  static ServerSocket greeter;
  static HttpsServer tlsUpstream;
  static TestCerts server;
  static ProxyFixture proxy;

  @BeforeAll
  static void start() throws Exception {
    server = TestCerts.create(dir, "server");
    echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    greeter = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    serve(echo, s -> s.getInputStream().transferTo(s.getOutputStream()));
    serve(
        greeter,
        s -> {
          s.getOutputStream().write("220 hello from a server-first protocol\n".getBytes());
          s.getOutputStream().flush();
          s.getInputStream().read();
        });
    tlsUpstream = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    tlsUpstream.setHttpsConfigurator(new HttpsConfigurator(server.sslContext(true, server)));
    tlsUpstream.createContext(
        "/",
        ex -> {
          byte[] b = "end-to-end tls".getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, b.length);
          ex.getResponseBody().write(b);
          ex.close();
        });
    tlsUpstream.start();
    String tcp = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
    proxy =
        new ProxyFixture(
            """
            static_resources:
              listeners:
              - name: inbound
                address: {socket_address: {address: 127.0.0.1, port_value: 0}}
                listener_filters:
                - name: envoy.filters.listener.tls_inspector
                  typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}
                - name: envoy.filters.listener.http_inspector
                  typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}
                listener_filters_timeout: 0.3s
                continue_on_listener_filters_timeout: true
                filter_chains:
                - filter_chain_match: {transport_protocol: tls, server_names: [secure.example.com]}
                  filters:
                  - name: tls_passthrough
                    typed_config: {"@type": %1$s, stat_prefix: tls, cluster: tls_upstream}
                - filter_chain_match: {application_protocols: [http/1.0, http/1.1, h2c]}
                  filters:
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      stat_prefix: inbound_http
                      route_config:
                        virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "http chain"}}}]
                      http_filters:
                      - name: envoy.filters.http.router
                        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
                - filter_chain_match: {transport_protocol: raw_buffer, destination_port: %2$d}
                  filters:
                  - name: never
                    typed_config: {"@type": %1$s, stat_prefix: never, cluster: echo}
                default_filter_chain:
                  filters:
                  - name: tcp
                    typed_config: {"@type": %1$s, stat_prefix: raw, cluster: raw}
              # The same inspector kept off every destination port (as Istio keeps it off the
              # inbound ports whose protocol it knows): nothing is sniffed there.
              - name: known
                address: {socket_address: {address: 127.0.0.1, port_value: 0}}
                listener_filters:
                - name: envoy.filters.listener.http_inspector
                  typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}
                  filter_disabled:
                    or_match:
                      rules:
                      - destination_port_range: {start: 1, end: 65536}
                filter_chains:
                - filter_chain_match: {application_protocols: [http/1.0, http/1.1, h2c]}
                  filters:
                  - name: never
                    typed_config: {"@type": %1$s, stat_prefix: never2, cluster: echo}
                default_filter_chain:
                  filters:
                  - name: tcp
                    typed_config: {"@type": %1$s, stat_prefix: known, cluster: raw}
              clusters:
              - name: tls_upstream
                load_assignment: {cluster_name: t, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %3$d}}}}]}]}
              - name: echo
                load_assignment: {cluster_name: e, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %4$d}}}}]}]}
              - name: raw
                load_assignment: {cluster_name: r, endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %5$d}}}}]}]}
            """
                .formatted(
                    tcp,
                    1,
                    tlsUpstream.getAddress().getPort(),
                    echo.getLocalPort(),
                    greeter.getLocalPort()));
  }

  interface Conversation {
    void run(Socket s) throws Exception;
  }

  static void serve(ServerSocket ss, Conversation c) {
    pool.submit(
        () -> {
          while (!ss.isClosed()) {
            Socket s = ss.accept();
            pool.submit(
                () -> {
                  try (s) {
                    c.run(s);
                  }
                  return null;
                });
          }
          return null;
        });
  }

  @AfterAll
  static void stop() throws Exception {
    proxy.close();
    tlsUpstream.stop(0);
    echo.close();
    greeter.close();
    pool.shutdownNow();
  }

  @Test
  void sniffedHttpGoesToTheHttpChain() throws Exception {
    assertThat(RawHttp.exchange(proxy.port("inbound"), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        .startsWith("HTTP/1.1 200")
        .endsWith("http chain");
  }

  @Test
  void tlsIsRoutedBySniWithoutTerminatingIt() throws Exception {
    javax.net.ssl.SSLSocketFactory f = server.sslContext(false, server).getSocketFactory();
    try (Socket raw = new Socket("127.0.0.1", proxy.port("inbound"));
        javax.net.ssl.SSLSocket tls =
            (javax.net.ssl.SSLSocket)
                f.createSocket(raw, "secure.example.com", proxy.port("inbound"), true)) {
      javax.net.ssl.SSLParameters params = tls.getSSLParameters();
      params.setServerNames(java.util.List.of(new javax.net.ssl.SNIHostName("secure.example.com")));
      tls.setSSLParameters(params);
      tls.getOutputStream()
          .write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes());
      tls.getOutputStream().flush();
      String response = new String(tls.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      // The upstream's answer, through a TLS session the proxy never terminated.
      assertThat(response).startsWith("HTTP/1.1 200").endsWith("end-to-end tls");
    }
  }

  @Test
  void bytesThatAreNotHttpFallToTheDefaultChain() throws Exception {
    try (Socket s = new Socket("127.0.0.1", proxy.port("inbound"))) {
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      out.write("\u0000\u0001binary hello\n".getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      assertThat(new String(in.readNBytes(39), StandardCharsets.US_ASCII))
          .isEqualTo("220 hello from a server-first protocol\n");
    }
  }

  @Test
  void aDisabledInspectorSniffsNothingOnItsPorts() throws Exception {
    try (Socket s = new Socket("127.0.0.1", proxy.port("known"))) {
      s.setSoTimeout(10_000);
      // No inspection to wait for: the server-first protocol greets at once, request or not.
      assertThat(new String(s.getInputStream().readNBytes(39), StandardCharsets.US_ASCII))
          .isEqualTo("220 hello from a server-first protocol\n");
      s.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
    }
  }

  @Test
  void aServerFirstProtocolIsServedAfterTheInspectionTimeout() throws Exception {
    try (Socket s = new Socket("127.0.0.1", proxy.port("inbound"))) {
      s.setSoTimeout(10_000);
      assertThat(new String(s.getInputStream().readNBytes(39), StandardCharsets.US_ASCII))
          .isEqualTo("220 hello from a server-first protocol\n");
    }
  }
}
