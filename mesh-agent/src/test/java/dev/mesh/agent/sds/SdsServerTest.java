package dev.mesh.agent.sds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.agent.identity.IdentityFiles;
import dev.mesh.agent.identity.PilotCaUnderTest;
import dev.mesh.agent.identity.WorkloadIdentity;
import dev.mesh.api.SpiffeId;
import dev.mesh.local.LogCapture;
import dev.mesh.security.Pem;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's SDS server on its real Unix socket, fed by a real certificate from pilot's CA, read
 * by grpc-java's generated SecretDiscoveryService client speaking Envoy's protocol.
 */
@EnableKubernetesMockClient(crud = true)
class SdsServerTest {
  static KubernetesClient client;
  static KubernetesMockServer server;
  static PilotCaUnderTest ca;
  static final Duration WITHIN = Duration.ofSeconds(30);
  static final SpiffeId SLEEP = new SpiffeId("cluster.local", "default", "sleep");

  @TempDir Path dir;
  IdentityFiles files;
  WorkloadIdentity identity;
  SdsServer sds;
  SdsClient client_;
  LogCapture log;

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

  /** The agent's identity and SDS, as the sidecar starts them: SDS first, then the certificate. */
  void agent(Duration ttl) throws Exception {
    log = new LogCapture("dev.mesh.agent");
    files = new IdentityFiles(dir).token(PilotCaUnderTest.SLEEP_TOKEN).root(ca.rootPem());
    identity = new WorkloadIdentity(files.settings(ca.address(), ttl), SLEEP);
    sds = new SdsServer(files.socket, identity);
    sds.start();
    identity.start();
    client_ = new SdsClient(files.socket);
  }

  @AfterEach
  void stop() throws Exception {
    if (client_ != null) {
      client_.close();
    }
    if (sds != null) {
      sds.close();
    }
    if (identity != null) {
      identity.close();
    }
    if (log != null) {
      log.close();
    }
  }

  static Map<String, Secret> byName(List<Secret> secrets) {
    return secrets.stream().collect(Collectors.toMap(Secret::getName, Function.identity()));
  }

  static String text(com.google.protobuf.ByteString b) {
    return b.toString(StandardCharsets.UTF_8);
  }

  /** The secret `default` as Envoy reads it: a chain for the pod's identity and its own key. */
  static X509Certificate checkWorkload(Secret s) throws Exception {
    var tls = s.getTlsCertificate();
    List<X509Certificate> chain =
        Pem.certificates(text(tls.getCertificateChain().getInlineBytes()));
    assertThat(chain).hasSizeGreaterThanOrEqualTo(2);
    X509Certificate leaf = chain.get(0);
    assertThat(leaf.getSubjectAlternativeNames()).contains(List.of(6, PilotCaUnderTest.SLEEP_ID));
    PrivateKey key = Pem.privateKey(text(tls.getPrivateKey().getInlineBytes()));
    Signature sign = Signature.getInstance("SHA256withECDSA");
    sign.initSign(key);
    sign.update(new byte[] {1, 2, 3});
    byte[] sig = sign.sign();
    Signature verify = Signature.getInstance("SHA256withECDSA");
    verify.initVerify(leaf.getPublicKey());
    verify.update(new byte[] {1, 2, 3});
    assertThat(verify.verify(sig)).as("the key is the leaf's").isTrue();
    return leaf;
  }

  @Test
  void stateOfTheWorldServesDefaultAndRootcaAckNackAndRotation() throws Exception {
    agent(Duration.ofSeconds(4));
    var stream = client_.sotw();
    stream.send(SdsClient.request("", "", "default", "ROOTCA"));
    DiscoveryResponse first = stream.await(r -> r.getResourcesCount() == 2, WITHIN);
    assertThat(first.getTypeUrl()).isEqualTo(SecretSnapshot.TYPE_URL);
    assertThat(first.getNonce()).isNotEmpty();
    Map<String, Secret> secrets = byName(SdsClient.secrets(first));
    X509Certificate leaf = checkWorkload(secrets.get("default"));
    assertThat(text(secrets.get("ROOTCA").getValidationContext().getTrustedCa().getInlineBytes()))
        .isEqualTo(ca.rootPem());

    // ACK, then NACK of the next push: the NACK is logged, the stream goes on.
    stream.send(SdsClient.request(first.getVersionInfo(), first.getNonce(), "default", "ROOTCA"));
    DiscoveryResponse rotated =
        stream.await(
            r ->
                SdsClient.secrets(r).stream()
                    .anyMatch(
                        s ->
                            s.getName().equals("default")
                                && !serial(s).equals(leaf.getSerialNumber())),
            WITHIN);
    assertThat(rotated.getNonce()).isNotEqualTo(first.getNonce());
    stream.send(
        SdsClient.request(first.getVersionInfo(), rotated.getNonce(), "default", "ROOTCA")
            .toBuilder()
            .setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage("bad key"))
            .build());
    assertThat(
            dev.mesh.local.Build.eventually(
                () ->
                    log.has(
                        "NACK of [default, ROOTCA] version "
                            + first.getVersionInfo()
                            + ": bad key"),
                WITHIN))
        .as("the NACK logged; log: %s", log.lines())
        .isTrue();
    // Rotation goes on after a NACK: the next certificate is pushed too.
    DiscoveryResponse again =
        stream.await(
            r ->
                SdsClient.secrets(r).stream()
                    .anyMatch(
                        s ->
                            s.getName().equals("default")
                                && !serial(s)
                                    .equals(
                                        serial(byName(SdsClient.secrets(rotated)).get("default")))),
            WITHIN);
    checkWorkload(byName(SdsClient.secrets(again)).get("default"));
    assertThat(log.records()).allMatch(r -> r.getThrown() == null);
  }

  static java.math.BigInteger serial(Secret s) {
    return Pem.certificate(text(s.getTlsCertificate().getCertificateChain().getInlineBytes()))
        .getSerialNumber();
  }

  @Test
  void deltaSendsWhatTheClientDoesNotHold() throws Exception {
    agent(Duration.ofSeconds(4));
    var stream = client_.delta();
    stream.send(
        DeltaDiscoveryRequest.newBuilder()
            .setTypeUrl(SecretSnapshot.TYPE_URL)
            .addResourceNamesSubscribe("default")
            .addResourceNamesSubscribe("ROOTCA")
            .build());
    java.util.Set<String> got = new java.util.HashSet<>();
    DeltaDiscoveryResponse r = null;
    java.math.BigInteger firstSerial = null;
    while (got.size() < 2) {
      r = stream.await(x -> true, WITHIN);
      for (var res : r.getResourcesList()) {
        got.add(res.getName());
        Secret s = res.getResource().unpack(Secret.class);
        assertThat(s.getName()).isEqualTo(res.getName());
        assertThat(res.getVersion()).isNotEmpty();
        if (res.getName().equals("default")) {
          firstSerial = serial(s);
          checkWorkload(s);
        }
      }
      stream.send(
          DeltaDiscoveryRequest.newBuilder()
              .setTypeUrl(SecretSnapshot.TYPE_URL)
              .setResponseNonce(r.getNonce())
              .build());
    }
    java.math.BigInteger before = firstSerial;
    // The rotation sends `default` alone: ROOTCA did not change.
    DeltaDiscoveryResponse rotated =
        stream.await(
            x ->
                x.getResourcesList().stream()
                    .anyMatch(
                        res -> {
                          try {
                            return res.getName().equals("default")
                                && !serial(res.getResource().unpack(Secret.class)).equals(before);
                          } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                            throw new AssertionError(e);
                          }
                        }),
            WITHIN);
    assertThat(rotated.getResourcesList())
        .extracting(res -> res.getName())
        .containsExactly("default");
  }

  @Test
  void unknownNamesGetNoResourceAndALogLine() throws Exception {
    agent(Duration.ofHours(1));
    var stream = client_.sotw();
    stream.send(SdsClient.request("", "", "file-cert:/etc/certs/cert.pem"));
    assertThat(
            dev.mesh.local.Build.eventually(
                () ->
                    log.has(
                        "no secret 'file-cert:/etc/certs/cert.pem' (this agent serves default and ROOTCA)"),
                WITHIN))
        .isTrue();
    stream.send(SdsClient.request("", "", "file-cert:/etc/certs/cert.pem", "default"));
    DiscoveryResponse r = stream.await(x -> true, WITHIN);
    assertThat(SdsClient.secrets(r)).extracting(Secret::getName).containsExactly("default");
    // The first request had no answer at all: this is the first response.
    assertThat(r.getNonce()).isEqualTo("1");
  }

  @Test
  void aNewRootFileIsPushedAsRootca() throws Exception {
    agent(Duration.ofHours(1));
    var stream = client_.sotw();
    stream.send(SdsClient.request("", "", "ROOTCA"));
    DiscoveryResponse first = stream.await(x -> true, WITHIN);
    stream.send(SdsClient.request(first.getVersionInfo(), first.getNonce(), "ROOTCA"));
    assertThat(dev.mesh.local.Build.eventually(() -> identity.certificate().isPresent(), WITHIN))
        .isTrue();
    // A second root beside the first, as while the mesh's root is being replaced.
    String bundle = ca.rootPem() + Pem.write(identity.certificate().orElseThrow().leaf());
    files.root(bundle);
    DiscoveryResponse changed = stream.await(x -> true, WITHIN);
    Secret root = SdsClient.secrets(changed).get(0);
    assertThat(Pem.certificates(text(root.getValidationContext().getTrustedCa().getInlineBytes())))
        .hasSize(2);
    assertThat(log.has("root certificates " + files.root + " changed: 2 loaded")).isTrue();
  }
}
