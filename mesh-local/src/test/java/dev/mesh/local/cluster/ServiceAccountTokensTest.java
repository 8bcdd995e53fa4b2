package dev.mesh.local.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.local.kube.ControlPlane;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The embedded API's TokenRequest and TokenReview, through a real fabric8 client, checked against
 * what kube-apiserver answers: the claims of a bound token, the review that pilot's CA asks for
 * (audience istio-ca), and every way a token is refused (another audience, expired, forged,
 * tampered, its pod or service account gone). No root needed: the API alone, no node.
 */
class ServiceAccountTokensTest {
  private static final JsonMapper JSON = JsonMapper.builder().build();

  @TempDir static Path state;
  static KubernetesMockServer server;
  static KubernetesClient client;
  static final List<String> logged = new ArrayList<>();
  static final Handler capture =
      new Handler() {
        @Override
        public void publish(LogRecord r) {
          synchronized (logged) {
            logged.add(r.getMessage() + (r.getThrown() == null ? "" : " " + r.getThrown()));
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  @BeforeAll
  static void start() {
    Logger root = Logger.getLogger("dev.mesh.local");
    root.setLevel(Level.ALL);
    root.addHandler(capture);
    server =
        LocalCluster.embeddedApi(
            new AdmittingDispatcher(ServiceAccountIssuer.inDirectory(state, ControlPlane.ISSUER)));
    client = server.createClient();
  }

  @AfterAll
  static void stop() {
    Logger.getLogger("dev.mesh.local").removeHandler(capture);
    Logger.getLogger("dev.mesh.local").setLevel(null);
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.destroy();
    }
  }

  static TokenRequest request(String namespace, String account, TokenRequest request) {
    return client.serviceAccounts().inNamespace(namespace).withName(account).tokenRequest(request);
  }

  static String token(String namespace, String account, String audience, Pod boundTo) {
    var b =
        new TokenRequestBuilder()
            .withNewMetadata()
            .withName(account)
            .endMetadata()
            .withNewSpec()
            .withAudiences(audience == null ? List.of() : List.of(audience))
            .endSpec();
    if (boundTo != null) {
      b.editSpec()
          .withNewBoundObjectRef()
          .withApiVersion("v1")
          .withKind("Pod")
          .withName(boundTo.getMetadata().getName())
          .withUid(boundTo.getMetadata().getUid())
          .endBoundObjectRef()
          .endSpec();
    }
    return request(namespace, account, b.build()).getStatus().getToken();
  }

  static TokenReviewStatus review(String token, String... audiences) {
    return client
        .authentication()
        .v1()
        .tokenReviews()
        .create(
            new TokenReviewBuilder()
                .withNewSpec()
                .withToken(token)
                .withAudiences(audiences)
                .endSpec()
                .build())
        .getStatus();
  }

  static JsonNode claims(String token) {
    return JSON.readTree(Base64.getUrlDecoder().decode(token.split("\\.")[1]));
  }

  static Pod pod(String namespace, String name, String account) {
    return client
        .pods()
        .inNamespace(namespace)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .withNamespace(namespace)
                .endMetadata()
                .withNewSpec()
                .withServiceAccountName(account)
                .addNewContainer()
                .withName("app")
                .withImage("app")
                .endContainer()
                .endSpec()
                .build())
        .create();
  }

  static void namespace(String name) {
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
        .create();
  }

  @Test
  void aTokenForIstioCaIsAuthenticatedForThatAudienceAsPilotsCaReadsIt() {
    namespace("sleepy");
    client
        .serviceAccounts()
        .inNamespace("sleepy")
        .resource(
            new ServiceAccountBuilder()
                .withNewMetadata()
                .withName("sleep")
                .withNamespace("sleepy")
                .endMetadata()
                .build())
        .create();
    String saUid =
        client
            .serviceAccounts()
            .inNamespace("sleepy")
            .withName("sleep")
            .get()
            .getMetadata()
            .getUid();
    Pod pod = pod("sleepy", "sleep-1", "sleep");

    TokenRequest answer =
        request(
            "sleepy",
            "sleep",
            new TokenRequestBuilder()
                .withNewMetadata()
                .withName("sleep")
                .endMetadata()
                .withNewSpec()
                .withAudiences("istio-ca")
                .withExpirationSeconds(43200L)
                .withNewBoundObjectRef()
                .withApiVersion("v1")
                .withKind("Pod")
                .withName("sleep-1")
                .withUid(pod.getMetadata().getUid())
                .endBoundObjectRef()
                .endSpec()
                .build());
    String token = answer.getStatus().getToken();
    JsonNode c = claims(token);
    assertThat(c.path("iss").asString()).isEqualTo("https://kubernetes.default.svc.cluster.local");
    assertThat(c.path("sub").asString()).isEqualTo("system:serviceaccount:sleepy:sleep");
    assertThat(c.path("aud").toString()).isEqualTo("[\"istio-ca\"]");
    assertThat(c.path("exp").asLong() - c.path("iat").asLong()).isEqualTo(43200);
    assertThat(c.path("nbf").asLong()).isEqualTo(c.path("iat").asLong());
    assertThat(c.path("jti").asString()).isNotEmpty();
    JsonNode k = c.path("kubernetes.io");
    assertThat(k.path("namespace").asString()).isEqualTo("sleepy");
    assertThat(k.path("serviceaccount").path("name").asString()).isEqualTo("sleep");
    assertThat(k.path("serviceaccount").path("uid").asString()).isEqualTo(saUid);
    assertThat(k.path("pod").path("name").asString()).isEqualTo("sleep-1");
    assertThat(k.path("pod").path("uid").asString()).isEqualTo(pod.getMetadata().getUid());
    assertThat(Instant.parse(answer.getStatus().getExpirationTimestamp()))
        .isEqualTo(Instant.ofEpochSecond(c.path("exp").asLong()));
    JsonNode header = JSON.readTree(Base64.getUrlDecoder().decode(token.split("\\.")[0]));
    assertThat(header.path("alg").asString()).isEqualTo("ES256");
    assertThat(header.path("kid").asString()).isNotEmpty();

    // What pilot's TokenReviewer sends and reads.
    TokenReviewStatus ok = review(token, "istio-ca");
    assertThat(ok.getError()).isNull();
    assertThat(ok.getAuthenticated()).isTrue();
    assertThat(ok.getAudiences()).containsExactly("istio-ca");
    assertThat(ok.getUser().getUsername()).isEqualTo("system:serviceaccount:sleepy:sleep");
    assertThat(ok.getUser().getUid()).isEqualTo(saUid);
    assertThat(ok.getUser().getGroups())
        .containsExactly(
            "system:serviceaccounts", "system:serviceaccounts:sleepy", "system:authenticated");
    assertThat(ok.getUser().getExtra())
        .containsEntry("authentication.kubernetes.io/pod-name", List.of("sleep-1"))
        .containsEntry("authentication.kubernetes.io/pod-uid", List.of(pod.getMetadata().getUid()))
        .containsEntry(
            "authentication.kubernetes.io/credential-id",
            List.of("JTI=" + c.path("jti").asString()));

    TokenReviewStatus other = review(token, "other");
    assertThat(other.getAuthenticated()).isNotEqualTo(Boolean.TRUE);
    assertThat(other.getError())
        .isEqualTo(
            "[invalid bearer token, token audiences [\"istio-ca\"] is invalid for the target"
                + " audiences [\"other\"]]");
    // No audiences in the review means the API server's own, which this token is not for.
    assertThat(review(token).getAuthenticated()).isNotEqualTo(Boolean.TRUE);
    assertThat(review(token, "other", "istio-ca").getAudiences()).containsExactly("istio-ca");

    synchronized (logged) {
      assertThat(logged).as("no token in a log line").noneMatch(l -> l.contains(token));
      assertThat(logged).noneMatch(l -> l.contains(token.split("\\.")[2]));
    }
  }

  @Test
  void theDefaultAccountIsMadeForEveryNamespaceAndTheApiAudienceIsTheDefault() {
    namespace("made");
    assertThat(client.serviceAccounts().inNamespace("made").withName("default").get())
        .as("the service-account controller's part")
        .isNotNull();
    // A namespace the embedded API never stored: its default account on first use.
    assertThat(client.serviceAccounts().inNamespace("never-made").withName("default").get())
        .isNull();
    String token = token("never-made", "default", null, null);
    assertThat(client.serviceAccounts().inNamespace("never-made").withName("default").get())
        .isNotNull();
    JsonNode c = claims(token);
    assertThat(c.path("aud").toString()).isEqualTo("[\"" + ControlPlane.ISSUER + "\"]");
    assertThat(c.path("exp").asLong() - c.path("iat").asLong()).isEqualTo(3600);
    assertThat(c.path("kubernetes.io").has("pod")).isFalse();
    TokenReviewStatus s = review(token);
    assertThat(s.getAuthenticated()).isTrue();
    assertThat(s.getAudiences()).containsExactly(ControlPlane.ISSUER);
    assertThat(s.getUser().getUsername()).isEqualTo("system:serviceaccount:never-made:default");
    assertThat(s.getUser().getExtra()).doesNotContainKey("authentication.kubernetes.io/pod-name");
  }

  @Test
  void requestsAreRefusedAsTheApiServerRefusesThem() {
    assertThatThrownBy(() -> token("default", "nobody", "istio-ca", null))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(404);
              assertThat(e.getStatus().getMessage())
                  .isEqualTo("serviceaccounts \"nobody\" not found");
            });
    assertThatThrownBy(
            () ->
                request(
                    "default",
                    "default",
                    new TokenRequestBuilder()
                        .withNewMetadata()
                        .withName("default")
                        .endMetadata()
                        .withNewSpec()
                        .withExpirationSeconds(60L)
                        .endSpec()
                        .build()))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getStatus().getMessage())
                  .isEqualTo(
                      "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds:"
                          + " Invalid value: 60: may not specify a duration less than 10 minutes");
            });
    Pod other = pod("default", "runs-as-other", "other");
    assertThatThrownBy(() -> token("default", "default", null, other))
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(400));
    Pod gone =
        new PodBuilder().withNewMetadata().withName("gone").withUid("u-1").endMetadata().build();
    assertThatThrownBy(() -> token("default", "default", null, gone))
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(404));
    // An empty review is a bad request, not a refused token.
    assertThatThrownBy(() -> review(""))
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(400));
  }

  @Test
  void aDeletedPodsTokenAndADeletedAccountsTokenAreRefused() {
    namespace("bound");
    Pod first = pod("bound", "app-1", null);
    String token = token("bound", "default", "istio-ca", first);
    assertThat(review(token, "istio-ca").getAuthenticated()).isTrue();

    client.pods().inNamespace("bound").withName("app-1").delete();
    TokenReviewStatus deleted = review(token, "istio-ca");
    assertThat(deleted.getAuthenticated()).isNotEqualTo(Boolean.TRUE);
    assertThat(deleted.getError())
        .isEqualTo("[invalid bearer token, service account token has been invalidated]");

    // A pod of the same name is another pod.
    Pod second = pod("bound", "app-1", null);
    TokenReviewStatus recreated = review(token, "istio-ca");
    assertThat(recreated.getError())
        .isEqualTo(
            "[invalid bearer token, pod UID ("
                + second.getMetadata().getUid()
                + ") does not match service account pod ref claim ("
                + first.getMetadata().getUid()
                + ")]");
    String current = token("bound", "default", "istio-ca", second);
    assertThat(review(current, "istio-ca").getAuthenticated()).isTrue();

    // The account deleted: refused, even once the controller's part has made a new one.
    client.serviceAccounts().inNamespace("bound").withName("default").delete();
    assertThat(review(current, "istio-ca").getError())
        .isEqualTo("[invalid bearer token, serviceaccounts \"default\" not found]");
    token("bound", "default", "istio-ca", second);
    assertThat(review(current, "istio-ca").getError())
        .startsWith("[invalid bearer token, service account UID (");
  }

  @Test
  void expiredForgedAndTamperedTokensAreRefused() throws Exception {
    namespace("attacks");
    String good = token("attacks", "default", "istio-ca", null);
    ObjectNode claims = (ObjectNode) claims(good);

    // Signed with the cluster's own key (read from its state directory, as a restarted cluster
    // reads it), but past its expiry and the API server's minute of leeway.
    ServiceAccountIssuer same = ServiceAccountIssuer.inDirectory(state, ControlPlane.ISSUER);
    long now = Instant.now().getEpochSecond();
    ObjectNode expired = claims.deepCopy();
    expired.put("iat", now - 7200).put("nbf", now - 7200).put("exp", now - 61);
    assertThat(review(same.sign(expired), "istio-ca").getError())
        .isEqualTo("[invalid bearer token, service account token has expired]");
    ObjectNode justExpired = claims.deepCopy();
    justExpired.put("exp", now - 5);
    assertThat(review(same.sign(justExpired), "istio-ca").getAuthenticated())
        .as("within the leeway")
        .isTrue();

    // Another key with the same issuer: unknown key id; or the cluster's key id claimed.
    Path elsewhere = Files.createTempDirectory(state, "forger");
    ServiceAccountIssuer forger = ServiceAccountIssuer.inDirectory(elsewhere, ControlPlane.ISSUER);
    assertThat(review(forger.sign(claims.deepCopy()), "istio-ca").getError())
        .isEqualTo("[invalid bearer token, invalid signature, no keys found]");
    String forged = forger.sign(claims.deepCopy());
    String[] f = forged.split("\\.");
    String header =
        Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString(
                ("{\"alg\":\"ES256\",\"kid\":\"" + same.keyId() + "\"}")
                    .getBytes(StandardCharsets.UTF_8));
    assertThat(review(header + "." + f[1] + "." + f[2], "istio-ca").getError())
        .isEqualTo("[invalid bearer token, go-jose/go-jose: error in cryptographic primitive]");

    // The cluster's token with another subject put in, signature kept.
    String[] g = good.split("\\.");
    ObjectNode other = claims.deepCopy();
    other.put("sub", "system:serviceaccount:kube-system:admin");
    String tampered =
        g[0]
            + "."
            + Base64.getUrlEncoder().withoutPadding().encodeToString(JSON.writeValueAsBytes(other))
            + "."
            + g[2];
    assertThat(review(tampered, "istio-ca").getError())
        .isEqualTo("[invalid bearer token, go-jose/go-jose: error in cryptographic primitive]");

    assertThat(review("not-a-jwt", "istio-ca").getError()).isEqualTo("invalid bearer token");
    assertThat(review(good, "istio-ca").getAuthenticated()).isTrue();
  }

  @Test
  void theKeyIsKeptInTheStateDirectoryForTheOwnerAlone() throws Exception {
    Path key = state.resolve(ServiceAccountIssuer.KEY);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
        .isEqualTo("rw-------");
    assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(Files.readString(state.resolve(ServiceAccountIssuer.PUBLIC)))
        .startsWith("-----BEGIN PUBLIC KEY-----");
    ServiceAccountIssuer again = ServiceAccountIssuer.inDirectory(state, ControlPlane.ISSUER);
    String token = token("default", "default", null, null);
    assertThat(again.verify(token)).as("the same key, read back").isPresent();
  }

  @Test
  void kubeApiAccessTokensLiveAYearButSayWhenTheyShouldHaveBeenRenewed() {
    namespace("extended");
    Pod pod = pod("extended", "app", null);
    TokenRequest answer =
        request(
            "extended",
            "default",
            new TokenRequestBuilder()
                .withNewMetadata()
                .withName("default")
                .endMetadata()
                .withNewSpec()
                .withExpirationSeconds(3607L)
                .withNewBoundObjectRef()
                .withApiVersion("v1")
                .withKind("Pod")
                .withName("app")
                .withUid(pod.getMetadata().getUid())
                .endBoundObjectRef()
                .endSpec()
                .build());
    JsonNode c = claims(answer.getStatus().getToken());
    long iat = c.path("iat").asLong();
    assertThat(c.path("exp").asLong() - iat).isEqualTo(365L * 24 * 3600);
    assertThat(c.path("kubernetes.io").path("warnafter").asLong()).isEqualTo(iat + 3607);
    assertThat(Instant.parse(answer.getStatus().getExpirationTimestamp()))
        .as("the lifetime asked for")
        .isEqualTo(Instant.ofEpochSecond(iat + 3607));
  }
}
