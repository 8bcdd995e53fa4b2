package dev.mesh.agent.identity;

import static dev.mesh.local.Build.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.api.SpiffeId;
import dev.mesh.local.LogCapture;
import dev.mesh.security.Pem;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.util.logging.LogRecord;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's certificate from pilot's real CA, over real gRPC and TLS on loopback, the CA
 * authenticating the token through TokenReview (fabric8's mock API server).
 */
@EnableKubernetesMockClient(crud = true)
class WorkloadIdentityTest {
  static KubernetesClient client;
  static KubernetesMockServer server;
  static PilotCaUnderTest ca;
  static final Duration WITHIN = Duration.ofSeconds(30);
  static final SpiffeId SLEEP = new SpiffeId("cluster.local", "default", "sleep");

  @BeforeAll
  static void startCa() throws Exception {
    PilotCaUnderTest.prepare(server, client);
    ca = PilotCaUnderTest.start(client, 0);
  }

  @AfterAll
  static void stopCa() throws Exception {
    if (ca != null) {
      ca.close();
    }
  }

  @Test
  void theCertificateCarriesTheTokensIdentityAndTheKeyStaysInMemory(@TempDir Path dir)
      throws Exception {
    IdentityFiles files =
        new IdentityFiles(dir).token(PilotCaUnderTest.SLEEP_TOKEN).root(ca.rootPem());
    try (LogCapture log = new LogCapture("dev.mesh.agent");
        WorkloadIdentity identity =
            new WorkloadIdentity(files.settings(ca.address(), Duration.ofHours(1)), SLEEP)) {
      identity.start();
      assertThat(eventually(() -> identity.certificate().isPresent(), WITHIN))
          .as("a certificate; log: %s", log.lines())
          .isTrue();
      WorkloadCertificate c = identity.certificate().get();
      assertThat(c.uris()).containsExactly(PilotCaUnderTest.SLEEP_ID);
      assertThat(c.leaf().getPublicKey()).isInstanceOf(ECPublicKey.class);
      assertThat(
              ((ECPublicKey) c.leaf().getPublicKey())
                  .getParams()
                  .getCurve()
                  .getField()
                  .getFieldSize())
          .isEqualTo(256);
      // Signed by the mesh's root, the chain ending with it.
      X509Certificate root = Pem.certificate(ca.rootPem());
      c.leaf().verify(Pem.certificate(c.chainPem().get(c.chainPem().size() - 1)).getPublicKey());
      assertThat(Pem.certificate(c.chainPem().get(c.chainPem().size() - 1))).isEqualTo(root);
      assertThat(Duration.between(c.leaf().getNotBefore().toInstant(), c.expires()))
          .isLessThanOrEqualTo(Duration.ofHours(1).plusMinutes(10));
      assertThat(identity.rootPem()).contains(ca.rootPem());
      // Nothing was written: the directory holds only what the test put there.
      try (Stream<Path> all = Files.walk(dir)) {
        assertThat(all.filter(Files::isRegularFile))
            .containsExactlyInAnyOrder(files.token, files.root);
      }
      assertThat(log.has("workload certificate [" + PilotCaUnderTest.SLEEP_ID + "] from CA"))
          .isTrue();
    }
  }

  @Test
  void renewsAtHalfItsLifeWithANewKey(@TempDir Path dir) throws Exception {
    IdentityFiles files =
        new IdentityFiles(dir).token(PilotCaUnderTest.SLEEP_TOKEN).root(ca.rootPem());
    try (WorkloadIdentity identity =
        new WorkloadIdentity(files.settings(ca.address(), Duration.ofSeconds(4)), SLEEP)) {
      identity.start();
      assertThat(eventually(() -> identity.certificate().isPresent(), WITHIN)).isTrue();
      WorkloadCertificate first = identity.certificate().get();
      assertThat(eventually(() -> identity.certificate().get() != first, WITHIN)).isTrue();
      WorkloadCertificate second = identity.certificate().get();
      assertThat(second.leaf().getSerialNumber()).isNotEqualTo(first.leaf().getSerialNumber());
      assertThat(second.leaf().getPublicKey()).isNotEqualTo(first.leaf().getPublicKey());
      // Not before the grace period: half of the life it had when it arrived (its notAfter is in
      // whole seconds), less 1% jitter.
      Duration life = Duration.between(first.received(), first.expires());
      assertThat(second.received())
          .isAfterOrEqualTo(first.expires().minus(life.multipliedBy(51).dividedBy(100)))
          .isBefore(first.expires());
    }
  }

  @Test
  void keepsTryingWhileTheCaIsDownAndSucceedsWhenItComesBack(@TempDir Path dir) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    IdentityFiles files =
        new IdentityFiles(dir).token(PilotCaUnderTest.SLEEP_TOKEN).root(ca.rootPem());
    try (LogCapture log = new LogCapture("dev.mesh.agent");
        WorkloadIdentity identity =
            new WorkloadIdentity(files.settings("127.0.0.1:" + port, Duration.ofHours(1)), SLEEP)) {
      identity.start();
      assertThat(
              eventually(
                  () -> log.lines().stream().filter(l -> l.contains("unreachable")).count() >= 3,
                  WITHIN))
          .as("three failed attempts logged; log: %s", log.lines())
          .isTrue();
      assertThat(identity.certificate()).isEmpty();
      String line = log.lines().stream().filter(l -> l.contains("unreachable")).findFirst().get();
      assertThat(line)
          .contains("workload certificate for " + PilotCaUnderTest.SLEEP_ID)
          .contains("CA 127.0.0.1:" + port + " unreachable")
          .contains("retrying in")
          .doesNotContain("\n");
      // The same CA (its root from the API server) comes up where the agent looks for it.
      try (PilotCaUnderTest back = PilotCaUnderTest.start(client, port)) {
        assertThat(eventually(() -> identity.certificate().isPresent(), WITHIN))
            .as("a certificate once the CA is back; log: %s", log.lines())
            .isTrue();
        assertThat(identity.certificate().get().uris()).containsExactly(PilotCaUnderTest.SLEEP_ID);
      }
      assertThat(log.records()).allMatch(r -> r.getThrown() == null);
    }
  }

  @Test
  void aTokenTheCaRefusesIsLoggedClearlyAndTriedAgain(@TempDir Path dir) throws Exception {
    IdentityFiles files = new IdentityFiles(dir).token("not-a-valid-token").root(ca.rootPem());
    try (LogCapture log = new LogCapture("dev.mesh.agent");
        WorkloadIdentity identity =
            new WorkloadIdentity(files.settings(ca.address(), Duration.ofHours(1)), SLEEP)) {
      identity.start();
      assertThat(
              eventually(
                  () -> log.lines().stream().filter(l -> l.contains("refused")).count() >= 2,
                  WITHIN))
          .as("two refusals logged; log: %s", log.lines())
          .isTrue();
      String line = log.lines().stream().filter(l -> l.contains("refused")).findFirst().get();
      assertThat(line)
          .contains("CA " + ca.address() + " refused the request: UNAUTHENTICATED")
          .contains("none held yet");
      assertThat(identity.certificate()).isEmpty();
      assertThat(log.records()).allMatch(r -> r.getThrown() == null);
      // The token is read at every call: once the kubelet writes a valid one, it is used.
      files.token(PilotCaUnderTest.SLEEP_TOKEN);
      assertThat(eventually(() -> identity.certificate().isPresent(), WITHIN)).isTrue();
    }
  }

  @Test
  void noTokenAndNoRootAreNamed(@TempDir Path dir) throws Exception {
    IdentityFiles files = new IdentityFiles(dir);
    try (LogCapture log = new LogCapture("dev.mesh.agent");
        WorkloadIdentity identity =
            new WorkloadIdentity(files.settings(ca.address(), Duration.ofHours(1)), SLEEP)) {
      identity.start();
      assertThat(eventually(() -> log.has("no root certificate at " + files.root), WITHIN))
          .isTrue();
      files.root(ca.rootPem());
      assertThat(eventually(() -> log.has("no service-account token at " + files.token), WITHIN))
          .isTrue();
      files.token(PilotCaUnderTest.SLEEP_TOKEN);
      assertThat(eventually(() -> identity.certificate().isPresent(), WITHIN)).isTrue();
      assertThat(log.records()).extracting(LogRecord::getThrown).containsOnlyNulls();
    }
  }
}
