package dev.mesh.local.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mesh.local.Build;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.Sweeper;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;

/**
 * The binaries install/kube/build.sh made are Kubernetes' and etcd's real ones, of the pinned
 * versions: kubectl and etcd say so, and etcd with kube-apiserver on it serve kubectl.
 */
class KubeBinariesTest {
  private static final KubeBinaries KUBE = KubeBinaries.pinned();

  @Test
  void theVersionsFileNamesTheCacheDirectoryAsTheScriptDoes() {
    assertThat(KUBE.kubernetesVersion()).matches("v1\\.\\d+\\.\\d+");
    assertThat(KUBE.etcdVersion()).matches("v3\\.\\d+\\.\\d+");
    assertThat(KubeBinaries.cacheRoot(Map.of("HOME", "/home/u")))
        .isEqualTo(Path.of("/home/u/.cache/mesh/kube"));
    assertThat(KubeBinaries.cacheRoot(Map.of("HOME", "/home/u", "MESH_KUBE_CACHE", "/c")))
        .isEqualTo(Path.of("/c"));
    KubeBinaries k = new KubeBinaries("v1.37.2", "v3.7.3", Path.of("/c"));
    assertThat(k.binary("kube-apiserver"))
        .isEqualTo(Path.of("/c/v1.37.2-etcdv3.7.3/bin/kube-apiserver"));
    assertThat(KubeBinaries.parse("# c\nKUBE_VERSION=v1.2.3\n\nETCD_VERSION=\"v3.4.5\"\n"))
        .containsEntry("KUBE_VERSION", "v1.2.3")
        .containsEntry("ETCD_VERSION", "v3.4.5");
  }

  @Test
  void kubectlAndEtcdReportThePinnedVersions() {
    assumeTrue(KUBE.present(), KUBE.describeMissing());
    String kubectl =
        Host.run(KUBE.binary("kubectl").toString(), "version", "--client", "-o", "json")
            .orThrow("kubectl version")
            .stdout();
    assertThat(kubectl)
        .containsPattern(
            "\"clientVersion\":\\s*\\{[^}]*\"gitVersion\":\\s*\""
                + KUBE.kubernetesVersion().replace(".", "\\.")
                + "\"");
    String etcd = Host.run(KUBE.binary("etcd").toString(), "--version").orThrow("etcd").stdout();
    assertThat(etcd).contains("etcd Version: " + KUBE.etcdVersion().substring(1));
  }

  @Test
  void kubeApiserverOnEtcdServesKubectl() throws Exception {
    assumeTrue(KUBE.present(), KUBE.describeMissing());
    assertThat(Host.run("openssl", "version").exitCode())
        .as("this test makes its certificates with openssl: apt-get install openssl")
        .isZero();
    Sweeper.sweepDeadOwners();
    // A swept directory: should this run be killed, a later sweep ends etcd and the API server.
    Path work =
        Files.createTempDirectory(
            Path.of("/tmp"), "mesh-" + ProcessHandle.current().pid() + "-kube-test-");
    List<Process> started = new ArrayList<>();
    try {
      Pki pki = Pki.make(work.resolve("pki"));
      int etcdClient = freePort();
      int etcdPeer = freePort();
      int apiPort = freePort();

      long t0 = System.nanoTime();
      Process etcd =
          start(
              work,
              started,
              "etcd.log",
              List.of(
                  KUBE.binary("etcd").toString(),
                  "--name=mesh",
                  "--data-dir=" + work.resolve("etcd"),
                  "--listen-client-urls=http://127.0.0.1:" + etcdClient,
                  "--advertise-client-urls=http://127.0.0.1:" + etcdClient,
                  "--listen-peer-urls=http://127.0.0.1:" + etcdPeer,
                  "--initial-advertise-peer-urls=http://127.0.0.1:" + etcdPeer,
                  "--initial-cluster=mesh=http://127.0.0.1:" + etcdPeer,
                  // A test's data need not survive a crash; fsync on a shared disk costs seconds.
                  "--unsafe-no-fsync"));
      HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      assertThat(
              up(
                  etcd,
                  () ->
                      get(plain, "http://127.0.0.1:" + etcdClient + "/health")
                          .contains("\"health\":\"true\""),
                  Duration.ofSeconds(30)))
          .as("etcd healthy; its log:%n%s", log(work, "etcd.log"))
          .isTrue();
      System.out.println("etcd healthy after " + millisSince(t0) + " ms");

      long t1 = System.nanoTime();
      Process apiserver =
          start(
              work,
              started,
              "kube-apiserver.log",
              List.of(
                  KUBE.binary("kube-apiserver").toString(),
                  "--etcd-servers=http://127.0.0.1:" + etcdClient,
                  "--bind-address=127.0.0.1",
                  "--advertise-address=127.0.0.1",
                  // The reconciler of the kubernetes service's endpoints refuses a loopback
                  // address (1.37: "may not be in the loopback range") and the API server exits.
                  "--endpoint-reconciler-type=none",
                  "--secure-port=" + apiPort,
                  "--tls-cert-file=" + pki.serverCert(),
                  "--tls-private-key-file=" + pki.serverKey(),
                  "--client-ca-file=" + pki.caCert(),
                  "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                  "--service-account-key-file=" + pki.serviceAccountPublicKey(),
                  "--service-account-signing-key-file=" + pki.serviceAccountKey(),
                  "--service-cluster-ip-range=10.96.0.0/16",
                  "--authorization-mode=Node,RBAC",
                  "--cert-dir=" + work.resolve("apiserver-certs")));
      // HTTP/1.1: over HTTP/2 the API server answers Java 17's client with GOAWAY right after
      // the SETTINGS exchange, before any request.
      HttpClient tls =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .sslContext(trusting(pki.caCert()))
              .connectTimeout(Duration.ofSeconds(2))
              .build();
      String api = "https://127.0.0.1:" + apiPort;
      // /readyz answers anonymous callers (system:public-info-viewer) once RBAC's roles are in.
      assertThat(
              up(apiserver, () -> get(tls, api + "/readyz").equals("ok"), Duration.ofSeconds(120)))
          .as("kube-apiserver ready; its log:%n%s", log(work, "kube-apiserver.log"))
          .isTrue();
      System.out.println("kube-apiserver ready after " + millisSince(t1) + " ms");

      Path kubeconfig = work.resolve("kubeconfig");
      Files.writeString(kubeconfig, pki.adminKubeconfig(api));
      String version = kubectl(kubeconfig, work, "get", "--raw", "/version");
      assertThat(version)
          .containsPattern(
              "\"gitVersion\":\\s*\"" + KUBE.kubernetesVersion().replace(".", "\\.") + "\"");
      String namespaces = kubectl(kubeconfig, work, "get", "namespaces", "-o", "name");
      assertThat(namespaces.lines())
          .contains("namespace/default", "namespace/kube-system", "namespace/kube-public");
      // The client certificate's subject is the user: CN the name, O the group.
      assertThat(
              kubectl(
                  kubeconfig, work, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"))
          .isEqualTo("mesh-admin");
      assertThat(kubectl(kubeconfig, work, "auth", "can-i", "*", "*")).isEqualTo("yes");
      System.out.println("kubectl as mesh-admin (system:masters): version and namespaces answered");

      long t2 = System.nanoTime();
      stop(apiserver);
      stop(etcd);
      System.out.println("kube-apiserver and etcd stopped in " + millisSince(t2) + " ms");
    } finally {
      started.forEach(KubeBinariesTest::stop);
      deleteTree(work);
    }
    assertThat(work).doesNotExist();
  }

  /** Polls until the check passes (true), or the process has exited or the time is up (false). */
  private static boolean up(Process p, BooleanSupplier check, Duration within) {
    Build.eventually(() -> !p.isAlive() || check.getAsBoolean(), within);
    return p.isAlive() && check.getAsBoolean();
  }

  private static Process start(Path work, List<Process> started, String logName, List<String> cmd)
      throws IOException {
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(work.resolve(logName).toFile())
            .start();
    started.add(p);
    Files.writeString(
        work.resolve(Sweeper.PIDS),
        p.pid() + "\n",
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
    return p;
  }

  /** SIGTERM, then SIGKILL after 30 s (both end on SIGTERM within a few seconds). */
  private static void stop(Process p) {
    if (!p.isAlive()) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
    }
  }

  private static String kubectl(Path kubeconfig, Path work, String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                KUBE.binary("kubectl").toString(),
                "--kubeconfig=" + kubeconfig,
                // Discovery's cache stays in the swept directory, not in ~/.kube.
                "--cache-dir=" + work.resolve("kubectl-cache")));
    cmd.addAll(List.of(args));
    return Host.run(cmd, null).orThrow("kubectl " + String.join(" ", args)).stdout().strip();
  }

  /** The body of a 200 answer, or "" for anything else (not up yet). */
  private static String get(HttpClient client, String url) {
    try {
      HttpResponse<String> r =
          client.send(
              HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
              HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? r.body().strip() : "";
    } catch (IOException e) {
      return "";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    }
  }

  private static SSLContext trusting(Path caCert) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    try (InputStream in = Files.newInputStream(caCert)) {
      trust.setCertificateEntry(
          "ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static long millisSince(long nanos) {
    return (System.nanoTime() - nanos) / 1_000_000;
  }

  private static String log(Path work, String name) {
    try {
      List<String> lines = Files.readAllLines(work.resolve(name));
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  /**
   * A cluster CA, the API server's serving certificate, an admin client certificate (group
   * system:masters) and the service-account signing key, made with openssl.
   */
  record Pki(Path dir) {
    static Pki make(Path dir) throws IOException {
      Files.createDirectories(dir);
      Pki pki = new Pki(dir);
      String ec = "ec_paramgen_curve:P-256";
      pki.openssl(
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          ec,
          "-nodes",
          "-days",
          "1",
          "-keyout",
          "ca.key",
          "-out",
          "ca.crt",
          "-subj",
          "/CN=mesh-kube-ca",
          "-addext",
          "basicConstraints=critical,CA:TRUE",
          "-addext",
          "keyUsage=critical,keyCertSign,cRLSign");
      // The names a client inside the cluster will use too (the kubernetes service, 10.96.0.1).
      pki.signed(
          "server",
          "/CN=kube-apiserver",
          "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
              + "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
              + "DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n");
      pki.signed("admin", "/O=system:masters/CN=mesh-admin", "extendedKeyUsage=clientAuth\n");
      pki.openssl(
          "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key");
      pki.openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub");
      return pki;
    }

    private void signed(String name, String subject, String extensions) throws IOException {
      Files.writeString(
          dir.resolve(name + ".ext"), "keyUsage=critical,digitalSignature\n" + extensions);
      openssl(
          "req",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-keyout",
          name + ".key",
          "-out",
          name + ".csr",
          "-subj",
          subject);
      openssl(
          "x509",
          "-req",
          "-in",
          name + ".csr",
          "-CA",
          "ca.crt",
          "-CAkey",
          "ca.key",
          "-CAcreateserial",
          "-days",
          "1",
          "-out",
          name + ".crt",
          "-extfile",
          name + ".ext");
    }

    private void openssl(String... args) throws IOException {
      List<String> cmd = new ArrayList<>(List.of("openssl"));
      cmd.addAll(List.of(args));
      Process p =
          new ProcessBuilder(cmd)
              .directory(dir.toFile())
              .redirectErrorStream(true)
              .redirectOutput(dir.resolve("openssl.log").toFile())
              .start();
      try {
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
          throw new IllegalStateException(
              "openssl " + args[0] + " failed: " + Files.readString(dir.resolve("openssl.log")));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }

    Path caCert() {
      return dir.resolve("ca.crt");
    }

    Path serverCert() {
      return dir.resolve("server.crt");
    }

    Path serverKey() {
      return dir.resolve("server.key");
    }

    Path serviceAccountKey() {
      return dir.resolve("sa.key");
    }

    Path serviceAccountPublicKey() {
      return dir.resolve("sa.pub");
    }

    String adminKubeconfig(String server) {
      return """
          apiVersion: v1
          kind: Config
          clusters:
          - name: mesh
            cluster:
              server: %s
              certificate-authority: %s
          users:
          - name: mesh-admin
            user:
              client-certificate: %s
              client-key: %s
          contexts:
          - name: mesh
            context:
              cluster: mesh
              user: mesh-admin
          current-context: mesh
          """
          .formatted(server, caCert(), dir.resolve("admin.crt"), dir.resolve("admin.key"));
    }
  }
}
