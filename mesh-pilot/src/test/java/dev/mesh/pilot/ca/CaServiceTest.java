package dev.mesh.pilot.ca;

import static dev.mesh.pilot.ca.CaTestSupport.OTHER_AUDIENCE_TOKEN;
import static dev.mesh.pilot.ca.CaTestSupport.SLEEP_TOKEN;
import static dev.mesh.pilot.ca.CaTestSupport.call;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.api.SpiffeId;
import dev.mesh.certs.CertificateAuthority;
import dev.mesh.security.Csr;
import dev.mesh.security.Pem;
import dev.mesh.security.WorkloadKeys;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Pilot's CA over real gRPC and TLS on loopback, against fabric8's mock API server (CRUD for
 * Secrets, ConfigMaps and Namespaces; TokenReview answered as the API server would). The client
 * trusts only the root pilot published in the caller's namespace and checks pilot's name.
 */
@EnableKubernetesMockClient(crud = true)
class CaServiceTest {
  static KubernetesClient client;
  static KubernetesMockServer server;
  static PilotCa pilot;
  static ManagedChannel channel;
  static final List<LogRecord> logged = new ArrayList<>();
  static final Logger CA_LOG = Logger.getLogger("dev.mesh.pilot.ca");
  static final Handler CAPTURE =
      new Handler() {
        @Override
        public void publish(LogRecord r) {
          synchronized (logged) {
            logged.add(r);
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  @BeforeAll
  static void start() throws Exception {
    CA_LOG.addHandler(CAPTURE);
    CaTestSupport.answerTokenReviews(server);
    CaTestSupport.namespace(client, "mesh-system");
    CaTestSupport.namespace(client, "default");
    pilot = PilotCa.start(client, settings("mesh-system"), null);
    channel = CaTestSupport.channel(pilot.port(), publishedRoot("default"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      CaTestSupport.close(channel);
    }
    if (pilot != null) {
      pilot.close();
    }
    CA_LOG.removeHandler(CAPTURE);
  }

  static PilotCa.Settings settings(String namespace) {
    return new PilotCa.Settings(namespace, "cluster.local", 0, "127.0.0.1", List.of());
  }

  /** The root in a namespace's istio-ca-root-cert, waited for with a watch. */
  static String publishedRoot(String namespace) {
    return publishedRootOf(client, namespace);
  }

  static String publishedRootOf(KubernetesClient client, String namespace) {
    ConfigMap cm =
        client
            .configMaps()
            .inNamespace(namespace)
            .withName(RootCertPublisher.CONFIG_MAP)
            .waitUntilCondition(c -> c != null && c.getData() != null, 20, TimeUnit.SECONDS);
    return cm.getData().get(RootCertPublisher.KEY);
  }

  static String csrAsking(String san) {
    return Csr.build(WorkloadKeys.ecdsaP256(), List.of(san));
  }

  static List<String> uriSans(X509Certificate c) throws Exception {
    List<String> out = new ArrayList<>();
    for (List<?> san : c.getSubjectAlternativeNames()) {
      out.add(san.get(0) + "=" + san.get(1));
    }
    return out;
  }

  @Test
  void signsTheTokensIdentityWhateverTheCsrAsks() throws Exception {
    List<String> chain =
        call(
            channel,
            SLEEP_TOKEN,
            csrAsking("spiffe://cluster.local/ns/kube-system/sa/admin"),
            null);

    assertThat(chain).hasSize(2);
    X509Certificate leaf = Pem.certificate(chain.get(0));
    X509Certificate root = Pem.certificate(chain.get(1));
    assertThat(chain.get(1)).isEqualTo(publishedRoot("default"));
    // 6 is a URI in X.509's GeneralName: the one name is the token's service account.
    assertThat(uriSans(leaf)).containsExactly("6=spiffe://cluster.local/ns/default/sa/sleep");
    assertThat(leaf.getSubjectX500Principal().getName()).isEmpty();
    assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
    assertThat(leaf.getExtendedKeyUsage())
        .containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
    leaf.verify(root.getPublicKey());
    // The default TTL: 24 h from now (it is valid from a minute before now).
    Duration life = Duration.between(Instant.now(), leaf.getNotAfter().toInstant());
    assertThat(life).isBetween(Duration.ofHours(24).minusMinutes(2), Duration.ofHours(24));
  }

  @Test
  void anRsaCsrAndARequestedTtlAreHonoured() throws Exception {
    String csr =
        Csr.build(WorkloadKeys.rsa(2048), new SpiffeId("cluster.local", "default", "sleep"));
    List<String> chain = call(channel, SLEEP_TOKEN, csr, Duration.ofHours(1));
    X509Certificate leaf = Pem.certificate(chain.get(0));
    assertThat(leaf.getPublicKey().getAlgorithm()).isEqualTo("RSA");
    Duration life = Duration.between(Instant.now(), leaf.getNotAfter().toInstant());
    assertThat(life).isBetween(Duration.ofMinutes(58), Duration.ofHours(1));
  }

  @Test
  void noTokenIsUnauthenticatedWithIstiosMessage() {
    assertRefused(
        Status.Code.UNAUTHENTICATED,
        "request authenticate failure",
        () -> call(channel, null, csrAsking("spiffe://x/ns/a/sa/b"), null));
  }

  @Test
  void aTokenTheApiServerRejectsIsUnauthenticated() {
    for (String token : List.of(OTHER_AUDIENCE_TOKEN, "not-a-token")) {
      assertRefused(
          Status.Code.UNAUTHENTICATED,
          "request authenticate failure",
          () -> call(channel, token, csrAsking("spiffe://x/ns/a/sa/b"), null));
    }
    assertThat(messages())
        .anyMatch(
            m ->
                m.contains("the token is not authenticated")
                    || m.contains("invalid for the target audiences"));
  }

  @Test
  void aTtlAboveTheMaximumIsRefusedWithIstiosMessage() {
    assertRefused(
        Status.Code.INVALID_ARGUMENT,
        "CSR signing error (requested TTL 2160h0m1s is greater than the max allowed"
            + " TTL 2160h0m0s)",
        () ->
            call(
                channel,
                SLEEP_TOKEN,
                csrAsking("spiffe://x/ns/a/sa/b"),
                Duration.ofDays(90).plusSeconds(1)));
  }

  @Test
  void aCsrThatIsNoCsrIsRefused() {
    assertThatThrownBy(
            () ->
                call(
                    channel,
                    SLEEP_TOKEN,
                    "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                    null))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription()).startsWith("CSR signing error (");
            });
  }

  @Test
  void theRootIsMadeOnceAndKeptAcrossARestart() throws Exception {
    Secret stored =
        client.secrets().inNamespace("mesh-system").withName(CaRootStore.SELF_SIGNED_SECRET).get();
    assertThat(stored.getType()).isEqualTo("istio.io/ca-root");
    assertThat(stored.getData()).containsKeys("ca-cert.pem", "ca-key.pem");
    X509Certificate before =
        Pem.certificate(call(channel, SLEEP_TOKEN, csrAsking("spiffe://x/ns/a/sa/b"), null).get(0));

    try (PilotCa restarted = PilotCa.start(client, settings("mesh-system"), null)) {
      assertThat(restarted.rootPem()).isEqualTo(pilot.rootPem());
      ManagedChannel second = CaTestSupport.channel(restarted.port(), pilot.rootPem());
      try {
        X509Certificate after =
            Pem.certificate(
                call(second, SLEEP_TOKEN, csrAsking("spiffe://x/ns/a/sa/b"), null).get(0));
        // Certificates of before the restart and after it chain to the one root.
        before.verify(restarted.ca().root().getPublicKey());
        after.verify(pilot.ca().root().getPublicKey());
      } finally {
        CaTestSupport.close(second);
      }
    }
    assertThat(
            client
                .secrets()
                .inNamespace("mesh-system")
                .withName(CaRootStore.SELF_SIGNED_SECRET)
                .get()
                .getMetadata()
                .getResourceVersion())
        .isEqualTo(stored.getMetadata().getResourceVersion());
  }

  @Test
  void twoPilotsStartingTogetherShareOneRoot() throws Exception {
    CaTestSupport.namespace(client, "race-system");
    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<MeshCa>> racers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      racers.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  throw new IllegalStateException(e);
                }
                return CaRootStore.load(client, "race-system", "cluster.local");
              }));
    }
    go.countDown();
    MeshCa a = racers.get(0).get(30, TimeUnit.SECONDS);
    MeshCa b = racers.get(1).get(30, TimeUnit.SECONDS);
    assertThat(a.rootPem()).isEqualTo(b.rootPem());
    assertThat(a.rootPem())
        .isEqualTo(
            decode(
                client
                    .secrets()
                    .inNamespace("race-system")
                    .withName(CaRootStore.SELF_SIGNED_SECRET)
                    .get(),
                "ca-cert.pem"));
  }

  @Test
  void thePlugInCaOfCacertsIsUsedWhenPresent() throws Exception {
    CaTestSupport.namespace(client, "plugin-system");
    CertificateAuthority plugin = CertificateAuthority.create("plug-in root", Duration.ofDays(30));
    client
        .secrets()
        .inNamespace("plugin-system")
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("cacerts")
                .withNamespace("plugin-system")
                .endMetadata()
                .withData(
                    Map.of(
                        "ca-cert.pem", encode(plugin.certificatePem()),
                        "ca-key.pem", encode(plugin.keyPem()),
                        "cert-chain.pem", encode(plugin.certificatePem()),
                        "root-cert.pem", encode(plugin.certificatePem())))
                .build())
        .create();
    // Pilot's certificate also carries the names it is given (as CA_ADDR's host).
    var settings =
        new PilotCa.Settings(
            "plugin-system",
            "cluster.local",
            0,
            "127.0.0.1",
            List.of(CaTestSupport.PILOT_NAME + ":15012"));
    try (PilotCa plugged = PilotCa.start(client, settings, null)) {
      assertThat(plugged.rootPem()).isEqualTo(plugin.certificatePem());
      ManagedChannel c = CaTestSupport.channel(plugged.port(), plugin.certificatePem());
      try {
        List<String> chain = call(c, SLEEP_TOKEN, csrAsking("spiffe://x/ns/a/sa/b"), null);
        assertThat(chain).hasSize(2);
        assertThat(chain.get(1)).isEqualTo(plugin.certificatePem());
        Pem.certificate(chain.get(0)).verify(plugin.certificate().getPublicKey());
      } finally {
        CaTestSupport.close(c);
      }
    }
    assertThat(
            client
                .secrets()
                .inNamespace("plugin-system")
                .withName(CaRootStore.SELF_SIGNED_SECRET)
                .get())
        .isNull();
  }

  @Test
  void theRootIsPublishedInANamespaceMadeLater() {
    CaTestSupport.namespace(client, "made-later");
    assertThat(publishedRoot("made-later")).isEqualTo(pilot.rootPem());
    ConfigMap cm =
        client.configMaps().inNamespace("made-later").withName("istio-ca-root-cert").get();
    assertThat(cm.getData()).containsOnlyKeys("root-cert.pem");
  }

  @Test
  void aChangedRootConfigMapIsPutBack() {
    publishedRoot("default");
    client
        .configMaps()
        .inNamespace("default")
        .withName(RootCertPublisher.CONFIG_MAP)
        .edit(
            c -> {
              c.setData(Map.of(RootCertPublisher.KEY, "tampered"));
              return c;
            });
    client
        .configMaps()
        .inNamespace("default")
        .withName(RootCertPublisher.CONFIG_MAP)
        .waitUntilCondition(
            c -> c != null && pilot.rootPem().equals(c.getData().get(RootCertPublisher.KEY)),
            20,
            TimeUnit.SECONDS);
  }

  @Test
  void theCaKeyIsNeverLogged() throws Exception {
    // Something of everything: a certificate, refusals, a restart.
    call(channel, SLEEP_TOKEN, csrAsking("spiffe://x/ns/a/sa/b"), null);
    assertThatThrownBy(() -> call(channel, "bad", csrAsking("spiffe://x/ns/a/sa/b"), null));
    PilotCa.start(client, settings("mesh-system"), null).close();
    String key =
        decode(
            client
                .secrets()
                .inNamespace("mesh-system")
                .withName(CaRootStore.SELF_SIGNED_SECRET)
                .get(),
            "ca-key.pem");
    String body = key.lines().filter(l -> !l.startsWith("-----")).reduce("", String::concat);
    List<String> messages = messages();
    assertThat(messages).isNotEmpty();
    assertThat(messages).anyMatch(m -> m.contains("CA: signing with"));
    for (String m : messages) {
      assertThat(m).doesNotContain("PRIVATE KEY");
      assertThat(m.replaceAll("\\s", "")).doesNotContain(body.substring(0, 40));
      assertThat(m).doesNotContain(SLEEP_TOKEN);
    }
  }

  /** The call fails with exactly this status code and description. */
  static void assertRefused(
      Status.Code code,
      String description,
      org.assertj.core.api.ThrowableAssert.ThrowingCallable call) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(code);
              assertThat(e.getStatus().getDescription()).isEqualTo(description);
            });
  }

  static List<String> messages() {
    synchronized (logged) {
      List<String> out = new ArrayList<>();
      for (LogRecord r : logged) {
        out.add(r.getMessage() + (r.getThrown() == null ? "" : " " + r.getThrown()));
      }
      return out;
    }
  }

  static String encode(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  static String decode(Secret s, String key) {
    return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
  }
}
