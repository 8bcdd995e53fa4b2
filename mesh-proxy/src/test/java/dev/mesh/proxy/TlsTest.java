package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS on listeners (with and without client certificates) and to upstreams, from files. */
class TlsTest {
  @TempDir static Path dir;
  static TestCerts server;
  static TestCerts client;
  static TestCerts stranger;
  ProxyFixture proxy;
  TestUpstream plain;
  HttpsServer tlsUpstream;

  @BeforeAll
  static void certs() throws Exception {
    server = TestCerts.create(dir, "server");
    client = TestCerts.create(dir, "client");
    stranger = TestCerts.create(dir, "stranger");
  }

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    if (plain != null) {
      plain.close();
    }
    if (tlsUpstream != null) {
      tlsUpstream.stop(0);
    }
  }

  private String tlsListener(boolean requireClientCert, int upstreamPort) {
    String validation =
        requireClientCert
            ? "            validation_context:\n"
                + "              trusted_ca: {filename: "
                + client.cert
                + "}\n"
                + "          require_client_certificate: true\n"
            : "";
    return """
        static_resources:
          listeners:
          - name: https
            address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            filter_chains:
            - transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                  common_tls_context:
                    tls_certificates:
                    - certificate_chain: {filename: %s}
                      private_key: {filename: %s}
        %s
              filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: https
                  route_config:
                    virtual_hosts:
                    - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: up}}]}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
          clusters:
          - name: up
            type: STATIC
            load_assignment:
              cluster_name: up
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
        """
        .formatted(server.cert, server.key, validation.stripTrailing(), upstreamPort);
  }

  private HttpResponse<String> get(HttpClient c, int port) throws Exception {
    return c.send(
        HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/secure")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aTlsListenerTerminatesTlsAndForwardsInPlaintext() throws Exception {
    plain = TestUpstream.echo("plain");
    proxy = new ProxyFixture(tlsListener(false, plain.port()));
    HttpClient c = HttpClient.newBuilder().sslContext(server.sslContext(false, server)).build();
    HttpResponse<String> r = get(c, proxy.port("https"));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("plain GET /secure");
    // A client that does not trust the proxy's certificate gets no connection.
    HttpClient untrusting =
        HttpClient.newBuilder().sslContext(server.sslContext(false, stranger)).build();
    assertThatThrownBy(() -> get(untrusting, proxy.port("https"))).isInstanceOf(IOException.class);
  }

  @Test
  void requiringAClientCertificateRefusesClientsWithoutOne() throws Exception {
    plain = TestUpstream.echo("plain");
    proxy = new ProxyFixture(tlsListener(true, plain.port()));
    HttpClient withCert =
        HttpClient.newBuilder().sslContext(client.sslContext(true, server)).build();
    assertThat(get(withCert, proxy.port("https")).statusCode()).isEqualTo(200);
    HttpClient withoutCert =
        HttpClient.newBuilder().sslContext(client.sslContext(false, server)).build();
    assertThatThrownBy(() -> get(withoutCert, proxy.port("https"))).isInstanceOf(IOException.class);
    HttpClient wrongCert =
        HttpClient.newBuilder().sslContext(stranger.sslContext(true, server)).build();
    assertThatThrownBy(() -> get(wrongCert, proxy.port("https"))).isInstanceOf(IOException.class);
  }

  @Test
  void upstreamTlsVerifiesTheUpstreamAgainstTheTrustedCa() throws Exception {
    tlsUpstream = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    tlsUpstream.setHttpsConfigurator(new HttpsConfigurator(server.sslContext(true, server)));
    tlsUpstream.createContext(
        "/",
        ex -> {
          byte[] b = "tls upstream".getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, b.length);
          ex.getResponseBody().write(b);
          ex.close();
        });
    tlsUpstream.start();
    String cluster =
        """
        - name: up
          type: STATIC
          transport_socket:
            name: envoy.transport_sockets.tls
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
              sni: localhost
              common_tls_context:
                validation_context:
                  trusted_ca: {filename: %s}
          load_assignment:
            cluster_name: up
            endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
        """;
    String route =
        """
        - name: all
          domains: ["*"]
          routes: [{match: {prefix: "/"}, route: {cluster: up}}]
        """;
    int port = tlsUpstream.getAddress().getPort();
    proxy = new ProxyFixture(Bootstraps.http(route, cluster.formatted(server.cert, port)));
    assertThat(proxy.get("http", "/").body()).isEqualTo("tls upstream");
    proxy.close();
    proxy = new ProxyFixture(Bootstraps.http(route, cluster.formatted(stranger.cert, port)));
    assertThat(proxy.get("http", "/").statusCode()).isEqualTo(503);
  }

  @Test
  void anUnreadableCertificateIsRefusedNamingTheListener() {
    String yaml = tlsListener(false, 1).replace(server.key.toString(), "/nonexistent/key.pem");
    assertThatThrownBy(() -> new ProxyFixture(yaml))
        .hasMessageContaining("listener https")
        .hasMessageContaining("/nonexistent/key.pem");
  }

  @Test
  void tlsParamsBoundTheProtocolVersions() throws Exception {
    plain = TestUpstream.echo("plain");
    String yaml =
        tlsListener(false, plain.port())
            .replace(
                "common_tls_context:\n",
                "common_tls_context:\n"
                    + "            tls_params: {tls_minimum_protocol_version: TLSv1_3}\n");
    assertThat(yaml).contains("tls_minimum_protocol_version");
    proxy = new ProxyFixture(yaml);
    javax.net.ssl.SSLParameters tls12 = new javax.net.ssl.SSLParameters();
    tls12.setProtocols(new String[] {"TLSv1.2"});
    HttpClient oldClient =
        HttpClient.newBuilder()
            .sslContext(server.sslContext(false, server))
            .sslParameters(tls12)
            .build();
    assertThatThrownBy(() -> get(oldClient, proxy.port("https"))).isInstanceOf(IOException.class);
    HttpClient current =
        HttpClient.newBuilder().sslContext(server.sslContext(false, server)).build();
    assertThat(get(current, proxy.port("https")).statusCode()).isEqualTo(200);
  }

  @Test
  void tlsOneZeroAsTheMinimumStillServesTlsOneTwo() throws Exception {
    plain = TestUpstream.echo("plain");
    proxy =
        new ProxyFixture(
            tlsListener(false, plain.port())
                .replace(
                    "common_tls_context:\n",
                    "common_tls_context:\n"
                        + "            tls_params: {tls_minimum_protocol_version: TLSv1_0,"
                        + " tls_maximum_protocol_version: TLSv1_2}\n"));
    javax.net.ssl.SSLParameters tls12 = new javax.net.ssl.SSLParameters();
    tls12.setProtocols(new String[] {"TLSv1.2"});
    HttpClient client =
        HttpClient.newBuilder()
            .sslContext(server.sslContext(false, server))
            .sslParameters(tls12)
            .build();
    assertThat(get(client, proxy.port("https")).statusCode()).isEqualTo(200);
  }
}
