package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/2 through the proxy: gRPC from grpc-java's client (h2c prior knowledge) to grpc-java's
 * health service over an HTTP/2 upstream, trailers included; and h2 negotiated by ALPN over TLS to
 * an HTTP/1.1 upstream.
 */
class Http2AndGrpcTest {
  @TempDir static Path dir;
  static Server grpc;
  static HealthStatusManager health = new HealthStatusManager();
  static TestUpstream http1;
  static TestCerts certs;
  static ProxyFixture proxy;

  @BeforeAll
  static void start() throws Exception {
    grpc =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(health.getHealthService())
            .addService(io.grpc.protobuf.services.ProtoReflectionServiceV1.newInstance())
            .build()
            .start();
    health.setStatus("mesh.Reviews", HealthCheckResponse.ServingStatus.SERVING);
    http1 = TestUpstream.echo("h1");
    certs = TestCerts.create(dir, "server");
    String hcm =
        """
                  - name: envoy.filters.network.http_connection_manager
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                      stat_prefix: %s
                      codec_type: AUTO
                      route_config:
                        virtual_hosts:
                        - name: all
                          domains: ["*"]
                          routes:
                          - match: {prefix: "/grpc."}
                            route: {cluster: grpc}
                          - match: {prefix: "/"}
                            route: {cluster: h1}
                      http_filters:
                      - name: envoy.filters.http.router
                        typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
        """;
    proxy =
        new ProxyFixture(
            """
            static_resources:
              listeners:
              - name: plain
                address: {socket_address: {address: 127.0.0.1, port_value: 0}}
                filter_chains:
                - filters:
            %s
              - name: tls
                address: {socket_address: {address: 127.0.0.1, port_value: 0}}
                filter_chains:
                - transport_socket:
                    name: envoy.transport_sockets.tls
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                      common_tls_context:
                        alpn_protocols: [h2, http/1.1]
                        tls_certificates:
                        - certificate_chain: {filename: %s}
                          private_key: {filename: %s}
                  filters:
            %s
              clusters:
              - name: grpc
                typed_extension_protocol_options:
                  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                    explicit_http_config:
                      http2_protocol_options: {}
                load_assignment:
                  cluster_name: grpc
                  endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
              - name: h1
                load_assignment:
                  cluster_name: h1
                  endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}}]}]
            """
                .formatted(
                    hcm.formatted("plain").stripTrailing(),
                    certs.cert,
                    certs.key,
                    hcm.formatted("tls").stripTrailing(),
                    grpc.getPort(),
                    http1.port()));
  }

  @AfterAll
  static void stop() throws Exception {
    proxy.close();
    http1.close();
    grpc.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }

  private static ManagedChannel channel() {
    return ManagedChannelBuilder.forAddress("127.0.0.1", proxy.port("plain"))
        .usePlaintext()
        .build();
  }

  @Test
  void aUnaryGrpcCallGoesThroughWithItsTrailers() throws Exception {
    ManagedChannel ch = channel();
    long before = proxy.stat("cluster.grpc.upstream_rq_total");
    long connectionsBefore = proxy.stat("cluster.grpc.upstream_cx_total");
    try {
      HealthCheckResponse r =
          HealthGrpc.newBlockingStub(ch)
              .withDeadlineAfter(10, TimeUnit.SECONDS)
              .check(HealthCheckRequest.newBuilder().setService("mesh.Reviews").build());
      assertThat(r.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      // Many calls multiplex over one upstream connection (pools are per worker, as Envoy's).
      for (int i = 0; i < 50; i++) {
        HealthGrpc.newBlockingStub(ch)
            .check(HealthCheckRequest.newBuilder().setService("mesh.Reviews").build());
      }
      assertThat(proxy.stat("cluster.grpc.upstream_rq_total") - before).isEqualTo(51);
      assertThat(proxy.stat("cluster.grpc.upstream_cx_total") - connectionsBefore)
          .isLessThanOrEqualTo(1);
    } finally {
      ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aServerStreamDeliversEachMessageAsItIsSent() throws Exception {
    ManagedChannel ch = channel();
    try {
      health.setStatus("mesh.Watched", HealthCheckResponse.ServingStatus.SERVING);
      var updates =
          HealthGrpc.newBlockingStub(ch)
              .withDeadlineAfter(20, TimeUnit.SECONDS)
              .watch(HealthCheckRequest.newBuilder().setService("mesh.Watched").build());
      assertThat(updates.next().getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      // The stream is still open: a change now reaches the client as a second message.
      health.setStatus("mesh.Watched", HealthCheckResponse.ServingStatus.NOT_SERVING);
      assertThat(updates.next().getStatus())
          .isEqualTo(HealthCheckResponse.ServingStatus.NOT_SERVING);
    } finally {
      ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aBidirectionalStreamAnswersEachRequestWhileBothSidesStayOpen() throws Exception {
    ManagedChannel ch = channel();
    var responses =
        new java.util.concurrent.LinkedBlockingQueue<
            io.grpc.reflection.v1.ServerReflectionResponse>();
    var done = new java.util.concurrent.CompletableFuture<Void>();
    try {
      var requests =
          io.grpc.reflection.v1.ServerReflectionGrpc.newStub(ch)
              .withDeadlineAfter(20, TimeUnit.SECONDS)
              .serverReflectionInfo(
                  new io.grpc.stub.StreamObserver<>() {
                    @Override
                    public void onNext(io.grpc.reflection.v1.ServerReflectionResponse r) {
                      responses.add(r);
                    }

                    @Override
                    public void onError(Throwable t) {
                      done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                      done.complete(null);
                    }
                  });
      requests.onNext(
          io.grpc.reflection.v1.ServerReflectionRequest.newBuilder().setListServices("").build());
      var first = responses.poll(10, TimeUnit.SECONDS);
      assertThat(first).isNotNull();
      assertThat(first.getListServicesResponse().getServiceList())
          .extracting(s -> s.getName())
          .contains("grpc.health.v1.Health");
      // The request stream is still open: a second request on it gets its own answer.
      requests.onNext(
          io.grpc.reflection.v1.ServerReflectionRequest.newBuilder()
              .setFileContainingSymbol("grpc.health.v1.Health")
              .build());
      var second = responses.poll(10, TimeUnit.SECONDS);
      assertThat(second).isNotNull();
      assertThat(second.getFileDescriptorResponse().getFileDescriptorProtoCount()).isPositive();
      requests.onCompleted();
      done.get(10, TimeUnit.SECONDS);
    } finally {
      ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aGrpcErrorStatusReachesTheClient() throws Exception {
    ManagedChannel ch = channel();
    try {
      assertThatThrownBy(
              () ->
                  HealthGrpc.newBlockingStub(ch)
                      .withDeadlineAfter(10, TimeUnit.SECONDS)
                      .check(HealthCheckRequest.newBuilder().setService("no.such.Service").build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    } finally {
      ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void h2NegotiatedOverTlsReachesAnHttp1Upstream() throws Exception {
    HttpClient c =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_2)
            .sslContext(certs.sslContext(false, certs))
            .build();
    HttpResponse<String> r =
        c.send(
            HttpRequest.newBuilder(URI.create("https://localhost:" + proxy.port("tls") + "/page"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).startsWith("h1 GET /page").contains("x-forwarded-proto: https");
    assertThat(r.body()).doesNotContain("x-http2-");
  }
}
