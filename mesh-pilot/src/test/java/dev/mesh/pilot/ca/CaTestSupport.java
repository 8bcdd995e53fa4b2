package dev.mesh.pilot.ca;

import dev.mesh.security.CaCalls;
import dev.mesh.security.Csr;
import dev.mesh.security.Pem;
import dev.mesh.security.WorkloadKeys;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.grpc.ManagedChannel;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The API server's half of the CA's tests: TokenReview answered as kube-apiserver answers it for
 * the tokens below (fabric8's mock server: an expectation for TokenReview, CRUD for the rest), and
 * a TLS gRPC client of pilot that trusts the root pilot published.
 */
final class CaTestSupport {
  /** A projected token of default/sleep for audience istio-ca. */
  static final String SLEEP_TOKEN = "token-default-sleep";

  /** A token of default/sleep for the API server's own audience, not istio-ca. */
  static final String OTHER_AUDIENCE_TOKEN = "token-default-sleep-kubernetes-audience";

  static final String PILOT_NAME = "mesh-pilot.mesh-system.svc";

  private CaTestSupport() {}

  /** TokenReview as the API server does it: the token must be valid for the audiences asked. */
  static void answerTokenReviews(KubernetesMockServer server) {
    server
        .expect()
        .post()
        .withPath("/apis/authentication.k8s.io/v1/tokenreviews")
        .andReply(
            201,
            request -> {
              TokenReview asked = Serialization.unmarshal(request.getUtf8Body(), TokenReview.class);
              List<String> audiences = asked.getSpec().getAudiences();
              String token = asked.getSpec().getToken();
              var answer = new TokenReviewBuilder(asked).withNewStatus();
              if (SLEEP_TOKEN.equals(token)
                  && audiences != null
                  && audiences.contains("istio-ca")) {
                return answer
                    .withAuthenticated(true)
                    .withAudiences("istio-ca")
                    .withNewUser()
                    .withUsername("system:serviceaccount:default:sleep")
                    .withGroups(
                        "system:serviceaccounts",
                        "system:serviceaccounts:default",
                        "system:authenticated")
                    .endUser()
                    .endStatus()
                    .build();
              }
              if (OTHER_AUDIENCE_TOKEN.equals(token) || SLEEP_TOKEN.equals(token)) {
                return answer
                    .withAuthenticated(false)
                    .withError(
                        "[invalid bearer token, token audiences [\"https://kubernetes.default.svc\"]"
                            + " is invalid for the target audiences "
                            + audiences
                            + ", unknown]")
                    .endStatus()
                    .build();
              }
              return answer
                  .withAuthenticated(false)
                  .withError("invalid bearer token")
                  .endStatus()
                  .build();
            })
        .always();
  }

  static void namespace(KubernetesClient client, String name) {
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .createOr(n -> n.update());
  }

  /** A TLS channel to pilot on 127.0.0.1 that trusts {@code rootPem} and checks pilot's name. */
  static ManagedChannel channel(int port, String rootPem) throws Exception {
    return NettyChannelBuilder.forAddress("127.0.0.1", port)
        .overrideAuthority(PILOT_NAME)
        .sslContext(
            GrpcSslContexts.forClient().trustManager(Pem.certificates(rootPem).get(0)).build())
        .build();
  }

  /**
   * A TLS channel to pilot presenting the certificate its CA issues to default/sleep (asked for
   * with {@link #SLEEP_TOKEN}), as a sidecar's proxy reaches ADS.
   */
  static ManagedChannel workloadChannel(int port, String rootPem) throws Exception {
    KeyPair keys = WorkloadKeys.ecdsaP256();
    ManagedChannel ca = channel(port, rootPem);
    List<String> chain;
    try {
      chain = call(ca, SLEEP_TOKEN, Csr.build(keys, List.of()), null);
    } finally {
      close(ca);
    }
    List<X509Certificate> certs = new ArrayList<>();
    for (String pem : chain.subList(0, chain.size() - 1)) { // the root is the server's to know
      certs.addAll(Pem.certificates(pem));
    }
    return NettyChannelBuilder.forAddress("127.0.0.1", port)
        .overrideAuthority(PILOT_NAME)
        .sslContext(
            GrpcSslContexts.forClient()
                .trustManager(Pem.certificates(rootPem).get(0))
                .keyManager(keys.getPrivate(), certs.toArray(new X509Certificate[0]))
                .build())
        .build();
  }

  static List<String> call(ManagedChannel channel, String token, String csr, Duration ttl) {
    return CaCalls.createCertificate(channel, token, csr, ttl, Duration.ofSeconds(20));
  }

  static void close(ManagedChannel channel) throws InterruptedException {
    channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
  }
}
