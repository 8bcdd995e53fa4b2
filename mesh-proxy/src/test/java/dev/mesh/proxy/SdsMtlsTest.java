package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.Server;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Istio's sidecar-to-sidecar mutual TLS with every part real: an SDS server nobody here wrote
 * (java-control-plane's V3DiscoveryServer) on a Unix socket serving {@code default} and {@code
 * ROOTCA} as the agent does, a client-side proxy whose cluster verifies the server's SPIFFE id, a
 * server-side proxy whose inbound listener requires client certificates, and an HTTP backend. The
 * tests run in order: the server's listener first warms for its certificate.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SdsMtlsTest {
  static final String CLIENT_ID = "spiffe://cluster.local/ns/default/sa/client";
  static final String SERVER_ID = "spiffe://cluster.local/ns/default/sa/server";
  static final String RBAC = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";

  @TempDir static Path dir;
  static TestCerts client;
  static TestCerts intruder; // trusted by the CA bundle, but not a principal RBAC allows
  static TestCerts server;
  static TestCerts rotated;
  static TestCerts other; // trusted, with an identity the client does not expect of the server
  static String rootCa;

  static final SimpleCache<String> cache =
      new SimpleCache<>(
          node ->
              node.getId().startsWith("server")
                  ? "server"
                  : node.getId().startsWith("ads") ? "ads" : "client");
  static final LinkedBlockingQueue<DiscoveryRequest> nacks = new LinkedBlockingQueue<>();
  static final AtomicInteger version = new AtomicInteger();
  static Server sds;
  static io.grpc.netty.shaded.io.netty.channel.EventLoopGroup boss;
  static io.grpc.netty.shaded.io.netty.channel.EventLoopGroup workers;
  static TestUpstream backend;
  static ProxyFixture serverProxy;
  static ProxyFixture clientProxy;
  static int inboundPort;
  static Path accessLog;
  static Path serverAccessLog;

  @BeforeAll
  static void start() throws Exception {
    client = TestCerts.create(dir, "client", "uri:" + CLIENT_ID);
    intruder = TestCerts.create(dir, "intruder", "uri:spiffe://cluster.local/ns/evil/sa/intruder");
    server = TestCerts.create(dir, "server", "uri:" + SERVER_ID);
    rotated = TestCerts.create(dir, "rotated", "uri:" + SERVER_ID);
    other = TestCerts.create(dir, "other", "uri:spiffe://cluster.local/ns/default/sa/other");
    // Each test certificate is self-signed: the bundle of all of them is the mesh's root.
    StringBuilder bundle = new StringBuilder();
    for (TestCerts c : List.of(client, intruder, server, rotated, other)) {
      bundle.append(Files.readString(c.cert));
    }
    rootCa = bundle.toString();
    String socket = dir.resolve("sds.sock").toString();
    boss = new io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup(1);
    workers = new io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup(1);
    sds =
        io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder.forAddress(
                new io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress(socket))
            .channelType(
                io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel.class)
            .bossEventLoopGroup(boss)
            .workerEventLoopGroup(workers)
            .addService(new V3DiscoveryServer(recordNacks(), cache).getSecretDiscoveryServiceImpl())
            .build()
            .start();
    backend = TestUpstream.echo("backend");
    try (ServerSocket s = new ServerSocket(0)) {
      inboundPort = s.getLocalPort();
    }
    accessLog = dir.resolve("client-access.log");
    serverAccessLog = dir.resolve("server-access.log");
    publish(
        "client",
        tlsCertificate("default", client),
        rootCa(),
        tlsCertificate("intruder", intruder));
    publish("server", rootCa()); // no certificate yet: the inbound listener must warm
    serverProxy = new ProxyFixture(serverBootstrap(socket));
    clientProxy = new ProxyFixture(clientBootstrap(socket));
  }

  @AfterAll
  static void stop() throws Exception {
    if (clientProxy != null) {
      clientProxy.close();
    }
    if (serverProxy != null) {
      serverProxy.close();
    }
    sds.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    boss.shutdownGracefully();
    workers.shutdownGracefully();
    backend.close();
  }

  @Test
  @Order(1)
  void aListenerWaitingForItsCertificateDoesNotAcceptUntilItArrives() throws Exception {
    assertThat(serverProxy.server.listeners().get("inbound")).isNull();
    assertThat(serverProxy.server.listeners().warming()).hasSize(1);
    assertThat(connects(inboundPort)).isFalse();
    await(
        () -> names(secretsDumpQuietly(serverProxy), "dynamic_active_secrets").contains("ROOTCA"),
        "ROOTCA arrived");
    com.google.gson.JsonObject waiting = secretsDump(serverProxy);
    assertThat(names(waiting, "dynamic_warming_secrets")).containsExactly("default");
    assertThat(names(waiting, "dynamic_active_secrets")).containsExactly("ROOTCA");
    publish("server", tlsCertificate("default", server), rootCa());
    await(() -> connects(inboundPort), "the inbound listener bound once its secret arrived");
    assertThat(serverProxy.server.listeners().warming()).isEmpty();
    assertThat(presentedSerial(client)).isEqualTo(serial(server));
  }

  @Test
  @Order(2)
  void aRequestGoesThroughOverMutualTls() throws Exception {
    await(() -> connects(inboundPort), "inbound listener");
    HttpResponse<String> r = clientProxy.get("outbound", "/hello");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("backend GET /hello");
    // The server's access log names the caller by its certificate, SAN and serial.
    String line = "/hello " + CLIENT_ID + " " + serial(client).toString(16);
    await(() -> read(serverAccessLog).contains(line), "the server's access log line " + line);
    // Both sides shook hands: the client's cluster and the server's listener count it.
    assertThat(
            clientProxy.stat("cluster.outbound|80||server.default.svc.cluster.local.ssl.handshake"))
        .isPositive();
    assertThat(serverProxy.stat("listener.127.0.0.1_" + inboundPort + ".ssl.handshake"))
        .isPositive();
    // What dashboards show as the connection's security: the server side's standard metrics.
    assertThat(serverProxy.server.stats().prometheus())
        .containsPattern(
            "istio_requests_total\\{reporter=\"destination\"[^}]*"
                + "source_principal=\""
                + CLIENT_ID
                + "\"[^}]*destination_principal=\""
                + SERVER_ID
                + "\"[^}]*connection_security_policy=\"mutual_tls\"");
  }

  @Test
  @Order(3)
  void aServerWhoseSanDoesNotMatchFailsTheUpstreamConnectionWith503Uf() throws Exception {
    HttpResponse<String> r = clientProxy.get("outbound", "/wrong-san");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body())
        .contains("reset reason: connection failure")
        .contains("TLS_error: CERTIFICATE_VERIFY_FAILED: verify SAN list");
    await(
        () -> readLog().contains("/wrong-san 503 UF TLS_error: CERTIFICATE_VERIFY_FAILED"),
        "the access log line with UF and the transport failure reason: " + readLog());
    assertThat(clientProxy.stat("cluster.wrong-san.ssl.connection_error")).isPositive();
  }

  @Test
  @Order(4)
  void rbacAllowsOneSpiffeIdentityAndDeniesAnother() throws Exception {
    assertThat(clientProxy.get("outbound", "/hello").statusCode()).isEqualTo(200);
    HttpResponse<String> denied = clientProxy.get("outbound", "/as-intruder");
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(denied.body()).isEqualTo("RBAC: access denied");
  }

  @Test
  @Order(5)
  void aRotatedCertificateIsPresentedToNewConnectionsWhileOpenOnesKeepGoing() throws Exception {
    try (SSLSocket open = tlsConnect(client)) {
      assertThat(exchange(open)).startsWith("HTTP/1.1 200");
      assertThat(peerSerial(open)).isEqualTo(serial(server));
      publish("server", tlsCertificate("default", rotated), rootCa());
      await(
          () -> serial(rotated).equals(presentedSerialQuietly(client)),
          "a new connection presents the rotated certificate");
      assertThat(exchange(open)).startsWith("HTTP/1.1 200");
      assertThat(peerSerial(open)).isEqualTo(serial(server));
    }
    assertThat(clientProxy.get("outbound", "/after-rotation").statusCode()).isEqualTo(200);
  }

  @Test
  @Order(6)
  void anInvalidSecretIsNackedAndTheLastGoodOneKeepsServing() throws Exception {
    nacks.clear();
    // rotated's certificate with another certificate's key: it would fail every handshake.
    Secret mismatched =
        Secret.newBuilder()
            .setName("default")
            .setTlsCertificate(
                TlsCertificate.newBuilder()
                    .setCertificateChain(inline(Files.readString(rotated.cert)))
                    .setPrivateKey(inline(Files.readString(other.key))))
            .build();
    publish("server", mismatched, rootCa());
    DiscoveryRequest nack = nacks.poll(20, TimeUnit.SECONDS);
    assertThat(nack).isNotNull();
    assertThat(nack.getErrorDetail().getMessage())
        .isEqualTo("secret 'default': the private key does not match the certificate's public key");
    Secret badPem =
        Secret.newBuilder()
            .setName("default")
            .setTlsCertificate(
                TlsCertificate.newBuilder()
                    .setCertificateChain(inline("-----BEGIN CERTIFICATE-----\nnot base64!\n"))
                    .setPrivateKey(inline(Files.readString(rotated.key))))
            .build();
    publish("server", badPem, rootCa());
    // java-control-plane's cache answers a NACK with the same snapshot again, so the refusal of
    // the earlier version may come again before this one's.
    DiscoveryRequest second = nacks.poll(20, TimeUnit.SECONDS);
    while (second != null && second.getErrorDetail().getMessage().contains("does not match")) {
      second = nacks.poll(20, TimeUnit.SECONDS);
    }
    assertThat(second).isNotNull();
    assertThat(second.getErrorDetail().getMessage())
        .startsWith("secret 'default': certificate_chain ");
    assertThat(presentedSerial(client)).isEqualTo(serial(rotated));
    assertThat(clientProxy.get("outbound", "/still-serving").statusCode()).isEqualTo(200);
  }

  @Test
  @Order(7)
  void oneClusterMixesMutualTlsAndPlaintextEndpointsByTransportSocketMatches() throws Exception {
    long handshakes = serverProxy.stat("listener.127.0.0.1_" + inboundPort + ".ssl.handshake");
    java.util.Set<String> protos = new java.util.HashSet<>();
    for (int i = 0; i < 4; i++) {
      HttpResponse<String> r = clientProxy.get("outbound", "/mixed");
      assertThat(r.statusCode()).isEqualTo(200);
      // Only the path through the server proxy (mTLS) has the header its route adds.
      protos.add(r.body().contains("x-via: server-proxy") ? "mtls" : "plaintext");
    }
    assertThat(protos).containsExactlyInAnyOrder("mtls", "plaintext");
    assertThat(serverProxy.stat("listener.127.0.0.1_" + inboundPort + ".ssl.handshake"))
        .isGreaterThan(handshakes);
  }

  @Test
  @Order(8)
  void theAdminShowsSecretsRedactedAndTheCertificatesInForce() throws Exception {
    String dump = serverProxy.admin("GET", "/config_dump").body();
    com.google.gson.JsonObject secrets = secretsDump(serverProxy);
    assertThat(names(secrets, "dynamic_active_secrets"))
        .containsExactlyInAnyOrder("default", "ROOTCA");
    assertThat(names(secrets, "dynamic_warming_secrets")).isEmpty();
    assertThat(dump).contains("[redacted]");
    String keyBody = Files.readString(rotated.key).lines().skip(1).findFirst().orElseThrow();
    assertThat(dump).doesNotContain(keyBody);
    assertThat(dump)
        .contains(Files.readString(rotated.cert).lines().skip(1).findFirst().orElseThrow());
    String certs = serverProxy.admin("GET", "/certs").body();
    com.google.gson.JsonObject first =
        com.google.gson.JsonParser.parseString(certs)
            .getAsJsonObject()
            .getAsJsonArray("certificates")
            .get(0)
            .getAsJsonObject();
    var chain = first.getAsJsonArray("cert_chain").get(0).getAsJsonObject();
    assertThat(chain.get("serial_number").getAsString()).isEqualTo(serial(rotated).toString(16));
    assertThat(
            chain
                .getAsJsonArray("subject_alt_names")
                .get(0)
                .getAsJsonObject()
                .get("uri")
                .getAsString())
        .isEqualTo(SERVER_ID);
    assertThat(first.getAsJsonArray("ca_cert")).hasSize(5);
  }

  @Test
  void anUnknownCipherSuiteOrAnUnreachableSdsSourceIsRefusedNamingIt() throws Exception {
    String listener =
        """
        static_resources:
          listeners:
          - name: tls
            address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            filter_chains:
            - transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                  common_tls_context:
                    tls_params: {cipher_suites: [%s]}
                    tls_certificate_sds_secret_configs: [%s]
              filters:
              - name: envoy.filters.network.tcp_proxy
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                  stat_prefix: tls
                  cluster: none
          clusters:
          - name: none
            type: STATIC
            load_assignment: {cluster_name: none}
        """;
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> new ProxyFixture(listener.formatted("RC4-MD5", sdsSecret("default"))))
        .isInstanceOf(dev.mesh.proxy.config.ConfigRejectedException.class)
        .hasMessage(
            "listener tls: tls_params.cipher_suites: 'RC4-MD5' is not a cipher suite mesh-proxy"
                + " supports");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> new ProxyFixture(listener.formatted("AES128-GCM-SHA256", sdsSecret("default"))))
        .isInstanceOf(dev.mesh.proxy.config.ConfigRejectedException.class)
        .hasMessage(
            "listener tls: sds_config: envoy_grpc names cluster 'sds-grpc', which is not a static"
                + " cluster");
  }

  static com.google.gson.JsonObject secretsDump(ProxyFixture proxy) throws Exception {
    var configs =
        com.google.gson.JsonParser.parseString(proxy.admin("GET", "/config_dump").body())
            .getAsJsonObject()
            .getAsJsonArray("configs");
    for (var c : configs) {
      if (c.getAsJsonObject().get("@type").getAsString().endsWith("SecretsConfigDump")) {
        return c.getAsJsonObject();
      }
    }
    throw new AssertionError("no SecretsConfigDump in " + configs);
  }

  @Test
  @Order(9)
  void aSecretCanComeOverTheAdsStream() throws Exception {
    Server ads =
        io.grpc.Grpc.newServerBuilderForPort(0, io.grpc.InsecureServerCredentials.create())
            .addService(
                new V3DiscoveryServer(recordNacks(), cache).getAggregatedDiscoveryServiceImpl())
            .build()
            .start();
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    publish("ads"); // CDS and LDS empty, no secret yet
    String yaml =
        """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
        node: {id: "ads~127.0.0.1~ads.default~default.svc.cluster.local", cluster: ads}
        dynamic_resources:
          ads_config:
            api_type: GRPC
            transport_api_version: V3
            grpc_services: [{envoy_grpc: {cluster_name: xds-grpc}}]
          cds_config: {ads: {}, resource_api_version: V3}
          lds_config: {ads: {}, resource_api_version: V3}
        static_resources:
          listeners:
          - name: tls
            address: {socket_address: {address: 127.0.0.1, port_value: %d}}
            filter_chains:
            - transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                  common_tls_context:
                    tls_certificate_sds_secret_configs:
                    - {name: default, sds_config: {ads: {}, resource_api_version: V3}}
              filters:
              - name: envoy.filters.network.tcp_proxy
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
                  stat_prefix: tls
                  cluster: backend
          clusters:
          - name: backend
            type: STATIC
            connect_timeout: 1s
            load_assignment:
              cluster_name: backend
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
          - name: xds-grpc
            type: STATIC
            connect_timeout: 1s
            http2_protocol_options: {}
            load_assignment:
              cluster_name: xds-grpc
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
        """
            .formatted(port, backend.port(), ads.getPort());
    try (ProxyFixture viaAds = new ProxyFixture(yaml)) {
      await(() -> viaAds.stat("cluster_manager.cds.update_success") > 0, "the first CDS over ADS");
      assertThat(viaAds.server.listeners().warming()).hasSize(1);
      assertThat(connects(port)).isFalse();
      // Not ready while its listener warms, as Envoy's init waits for it: a sidecar that said
      // ready now would have traffic sent to a port nothing listens on.
      assertThat(viaAds.server.state())
          .isEqualTo(dev.mesh.proxy.server.ProxyServer.State.INITIALIZING);
      publish("ads", tlsCertificate("default", server));
      await(() -> connects(port), "the listener bound once its secret came over ADS");
      await(
          () -> viaAds.server.state() == dev.mesh.proxy.server.ProxyServer.State.LIVE,
          "LIVE once nothing warms");
      // This listener verifies no client and only the certificate it presents matters here.
      javax.net.ssl.SSLContext trustAll = SSLContext.getInstance("TLS");
      trustAll.init(
          null,
          io.netty.handler.ssl.util.InsecureTrustManagerFactory.INSTANCE.getTrustManagers(),
          null);
      try (SSLSocket s = (SSLSocket) trustAll.getSocketFactory().createSocket("127.0.0.1", port)) {
        s.startHandshake();
        assertThat(peerSerial(s)).isEqualTo(serial(server));
      }
      assertThat(viaAds.stat("sds.ads.update_success")).isPositive();
    } finally {
      ads.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  static com.google.gson.JsonObject secretsDumpQuietly(ProxyFixture proxy) {
    try {
      return secretsDump(proxy);
    } catch (Exception e) {
      return new com.google.gson.JsonObject();
    }
  }

  static List<String> names(com.google.gson.JsonObject dump, String field) {
    var items = dump.getAsJsonArray(field);
    List<String> out = new java.util.ArrayList<>();
    if (items != null) {
      items.forEach(i -> out.add(i.getAsJsonObject().get("name").getAsString()));
    }
    return out;
  }

  // --- the two proxies -----------------------------------------------------------------------

  /** Istio's sds-grpc cluster: the agent's SDS server on a Unix socket, over HTTP/2. */
  static String sdsCluster(String socket) {
    return """
          - name: sds-grpc
            type: STATIC
            connect_timeout: 1s
            typed_extension_protocol_options:
              envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                explicit_http_config: {http2_protocol_options: {}}
            load_assignment:
              cluster_name: sds-grpc
              endpoints: [{lb_endpoints: [{endpoint: {address: {pipe: {path: "%s"}}}}]}]
        """
        .formatted(socket);
  }

  /** An SdsSecretConfig as Istio's pilot writes it. */
  static String sdsSecret(String name) {
    return """
        {name: %s, sds_config: {api_config_source: {api_type: GRPC, transport_api_version: V3, \
        set_node_on_first_message_only: true, grpc_services: [{envoy_grpc: {cluster_name: sds-grpc}}]}, \
        initial_fetch_timeout: 0s, resource_api_version: V3}}"""
        .formatted(name);
  }

  static String serverBootstrap(String socket) {
    return """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
        node: {id: "server~127.0.0.1~server.default~default.svc.cluster.local", cluster: server}
        static_resources:
          listeners:
          - name: inbound
            traffic_direction: INBOUND
            address: {socket_address: {address: 127.0.0.1, port_value: %d}}
            filter_chains:
            - transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                  require_client_certificate: true
                  common_tls_context:
                    alpn_protocols: [h2, http/1.1]
                    tls_params:
                      tls_minimum_protocol_version: TLSv1_2
                      tls_maximum_protocol_version: TLSv1_3
                      cipher_suites: [ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-RSA-AES256-GCM-SHA384, \
        ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256, AES256-GCM-SHA384, AES128-GCM-SHA256]
                    tls_certificate_sds_secret_configs: [%s]
                    combined_validation_context:
                      default_validation_context: {}
                      validation_context_sds_secret_config: %s
              filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: inbound
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                      path: %s
                      log_format: {text_format_source: {inline_string: "%%REQ(:PATH)%% %%DOWNSTREAM_PEER_URI_SAN%% %%DOWNSTREAM_PEER_SERIAL%%\n"}}
                  http_filters:
                  - name: envoy.filters.http.rbac
                    typed_config:
                      "@type": %s
                      rules:
                        action: ALLOW
                        policies:
                          ns[default]-policy[allow-client]-rule[0]:
                            permissions: [{any: true}]
                            principals: [{authenticated: {principal_name: {exact: "%s"}}}]
                  - name: istio.stats
                    typed_config:
                      "@type": type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/stats.PluginConfig
                      value: {}
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
                  route_config:
                    virtual_hosts:
                    - name: inbound
                      domains: ["*"]
                      request_headers_to_add: [{header: {key: x-via, value: server-proxy}}]
                      routes: [{match: {prefix: "/"}, route: {cluster: backend}}]
          clusters:
          - name: backend
            type: STATIC
            connect_timeout: 1s
            load_assignment:
              cluster_name: backend
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
        %s
        """
        .formatted(
            inboundPort,
            sdsSecret("default"),
            sdsSecret("ROOTCA"),
            serverAccessLog,
            RBAC,
            CLIENT_ID,
            backend.port(),
            sdsCluster(socket));
  }

  /** An upstream cluster to the server proxy verifying its SAN, presenting {@code identity}. */
  static String upstreamCluster(String name, String identity, String expectedSan) {
    return """
          - name: "%s"
            type: STATIC
            connect_timeout: 2s
            load_assignment:
              cluster_name: "%s"
              endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
            transport_socket:
              name: envoy.transport_sockets.tls
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                sni: outbound_.80_._.server.default.svc.cluster.local
                common_tls_context:
                  alpn_protocols: [istio-peer-exchange, istio]
                  tls_certificate_sds_secret_configs: [%s]
                  combined_validation_context:
                    default_validation_context:
                      match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: "%s"}}]
                    validation_context_sds_secret_config: %s
        """
        .formatted(name, name, inboundPort, sdsSecret(identity), expectedSan, sdsSecret("ROOTCA"));
  }

  /**
   * Istio's auto-mTLS cluster: endpoints labelled {tlsMode: istio} get mutual TLS, the others
   * plaintext, by transport_socket_matches. One meshed endpoint (the server proxy) and one not (the
   * backend itself).
   */
  static String mixedCluster() {
    return """
          - name: mixed
            type: STATIC
            connect_timeout: 2s
            load_assignment:
              cluster_name: mixed
              endpoints:
              - lb_endpoints:
                - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
                  metadata: {filter_metadata: {envoy.transport_socket_match: {tlsMode: istio}}}
                - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}
            transport_socket_matches:
            - name: tlsMode-istio
              match: {tlsMode: istio}
              transport_socket:
                name: envoy.transport_sockets.tls
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                  common_tls_context:
                    alpn_protocols: [istio-peer-exchange, istio]
                    tls_certificate_sds_secret_configs: [%s]
                    combined_validation_context:
                      default_validation_context:
                        match_typed_subject_alt_names: [{san_type: URI, matcher: {prefix: "spiffe://cluster.local/ns/default/"}}]
                      validation_context_sds_secret_config: %s
            - name: tlsMode-disabled
              match: {}
              transport_socket:
                name: envoy.transport_sockets.raw_buffer
                typed_config: {"@type": type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer}
        """
        .formatted(inboundPort, backend.port(), sdsSecret("default"), sdsSecret("ROOTCA"));
  }

  static String clientBootstrap(String socket) {
    return """
        admin: {address: {socket_address: {address: 127.0.0.1, port_value: 0}}}
        node: {id: "client~127.0.0.1~client.default~default.svc.cluster.local", cluster: client}
        static_resources:
          listeners:
          - name: outbound
            address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: outbound
                  access_log:
                  - name: envoy.access_loggers.file
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
                      path: %s
                      log_format: {text_format_source: {inline_string: "%%REQ(:PATH)%% %%RESPONSE_CODE%% %%RESPONSE_FLAGS%% %%UPSTREAM_TRANSPORT_FAILURE_REASON%%\\n"}}
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
                  route_config:
                    virtual_hosts:
                    - name: outbound
                      domains: ["*"]
                      routes:
                      - {match: {prefix: "/wrong-san"}, route: {cluster: wrong-san}}
                      - {match: {prefix: "/as-intruder"}, route: {cluster: as-intruder}}
                      - {match: {prefix: "/mixed"}, route: {cluster: mixed}}
                      - {match: {prefix: "/"}, route: {cluster: "outbound|80||server.default.svc.cluster.local"}}
          clusters:
        %s%s%s%s%s
        """
        .formatted(
            accessLog,
            mixedCluster(),
            upstreamCluster("outbound|80||server.default.svc.cluster.local", "default", SERVER_ID),
            upstreamCluster("wrong-san", "default", "spiffe://cluster.local/ns/default/sa/nobody"),
            upstreamCluster("as-intruder", "intruder", SERVER_ID),
            sdsCluster(socket));
  }

  // --- the SDS server's secrets ---------------------------------------------------------------

  static DiscoveryServerCallbacks recordNacks() {
    return new DiscoveryServerCallbacks() {
      @Override
      public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
        if (request.hasErrorDetail()) {
          nacks.add(request);
        }
      }

      @Override
      public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {}
    };
  }

  static void publish(String group, Secret... secrets) {
    cache.setSnapshot(
        group,
        Snapshot.create(
            List.of(),
            List.of(),
            List.of(),
            List.of(),
            List.of(secrets),
            Integer.toString(version.incrementAndGet())));
  }

  static Secret tlsCertificate(String name, TestCerts certs) throws Exception {
    return Secret.newBuilder()
        .setName(name)
        .setTlsCertificate(
            TlsCertificate.newBuilder()
                .setCertificateChain(inline(Files.readString(certs.cert)))
                .setPrivateKey(inline(Files.readString(certs.key))))
        .build();
  }

  static Secret rootCa() {
    return Secret.newBuilder()
        .setName("ROOTCA")
        .setValidationContext(
            CertificateValidationContext.newBuilder().setTrustedCa(inline(rootCa)))
        .build();
  }

  static DataSource inline(String text) {
    return DataSource.newBuilder().setInlineString(text).build();
  }

  // --- a TLS client of the server proxy, as the client's sidecar would be ---------------------

  static SSLSocket tlsConnect(TestCerts identity) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    int i = 0;
    for (var c : cf.generateCertificates(new java.io.ByteArrayInputStream(rootCa.getBytes()))) {
      trust.setCertificateEntry("ca" + i++, c);
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(trust);
    KeyStore id = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(identity.p12)) {
      id.load(in, "changeit".toCharArray());
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(id, "changeit".toCharArray());
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", inboundPort);
    s.setSoTimeout(10_000);
    s.startHandshake();
    return s;
  }

  /** One keep-alive HTTP/1.1 exchange on an open connection; the status line and the body. */
  static String exchange(SSLSocket s) throws Exception {
    OutputStream out = s.getOutputStream();
    out.write("GET /open HTTP/1.1\r\nHost: server\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
    BufferedReader in =
        new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
    String status = in.readLine();
    int length = 0;
    for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
      if (line.toLowerCase().startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    char[] body = new char[length];
    int read = 0;
    while (read < length) {
      int n = in.read(body, read, length - read);
      if (n < 0) {
        break;
      }
      read += n;
    }
    return status + "\n" + new String(body, 0, read);
  }

  static BigInteger peerSerial(SSLSocket s) throws Exception {
    return ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSerialNumber();
  }

  static BigInteger presentedSerial(TestCerts identity) throws Exception {
    try (SSLSocket s = tlsConnect(identity)) {
      return peerSerial(s);
    }
  }

  static BigInteger presentedSerialQuietly(TestCerts identity) {
    try {
      return presentedSerial(identity);
    } catch (Exception e) {
      return null;
    }
  }

  static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file) : "";
    } catch (java.io.IOException e) {
      return "";
    }
  }

  static BigInteger serial(TestCerts c) {
    try {
      return ((X509Certificate)
              CertificateFactory.getInstance("X.509")
                  .generateCertificate(Files.newInputStream(c.cert)))
          .getSerialNumber();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static boolean connects(int port) {
    try (Socket s = new Socket("127.0.0.1", port)) {
      return true;
    } catch (ConnectException e) {
      return false;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  static String readLog() {
    try {
      return Files.exists(accessLog) ? Files.readString(accessLog) : "";
    } catch (java.io.IOException e) {
      return "";
    }
  }

  static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 20 s: " + what);
      }
      Thread.sleep(50); // polling interval, not synchronisation: the deadline bounds it
    }
  }
}
