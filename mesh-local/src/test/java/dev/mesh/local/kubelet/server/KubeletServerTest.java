package dev.mesh.local.kubelet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.mesh.local.Build;
import dev.mesh.local.kube.ControlPlanePki;
import dev.mesh.local.kube.KubeBinaries;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.Sweeper;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.LocalPortForward;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The kubelet API as a real kube-apiserver proxies to it, driven by the real kubectl and by
 * fabric8's client: logs (tail, limit, follow), port-forward (SPDY from kubectl through the API
 * server's tunnel, WebSocket from fabric8), exec (SPDY behind the API server's WebSocket
 * translation for kubectl, WebSocket from fabric8). The pod behind it is real things: a log file
 * another writer appends to, a TCP echo server, {@code sh -c} processes.
 */
class KubeletServerTest {
  private static final KubeBinaries KUBE = KubeBinaries.pinned();
  private static final String NODE = "kubelet-test-node";
  private static final int POD_PORT = 8080;

  private static Path work;
  private static final List<Process> started = new ArrayList<>();
  private static ControlPlanePki pki;
  private static KubeletServer kubelet;
  private static EchoServer echo;
  private static Path appLog;
  private static Path kubeconfig;
  private static KubernetesClient client;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(KUBE.present(), KUBE.describeMissing());
    java.util.logging.Logger l =
        java.util.logging.Logger.getLogger("dev.mesh.local.kubelet.server");
    l.setLevel(java.util.logging.Level.FINE);
    java.util.logging.ConsoleHandler h = new java.util.logging.ConsoleHandler();
    h.setLevel(java.util.logging.Level.FINE);
    l.addHandler(h);
    l.setUseParentHandlers(false);
    Sweeper.sweepDeadOwners();
    // A swept directory: should this run be killed, a later sweep ends etcd and the API server.
    work =
        Files.createTempDirectory(
            Path.of("/tmp"), "mesh-" + ProcessHandle.current().pid() + "-kubelet-test-");
    pki =
        ControlPlanePki.make(
            work.resolve("pki"),
            List.of("localhost", "127.0.0.1"),
            NODE,
            List.of(NODE, "127.0.0.1"));
    appLog = work.resolve("app.log");
    Files.writeString(appLog, "one\ntwo\nthree\n");
    echo = new EchoServer();
    kubelet =
        KubeletServer.start(
            new InetSocketAddress("127.0.0.1", 0),
            KubeletServer.Tls.files(
                pki.file("kubelet-serving.crt"),
                pki.file("kubelet-serving.key"),
                pki.file("kubelet-client-ca.crt")),
            new TestPods());

    int etcdClient = freePort();
    int etcdPeer = freePort();
    int apiPort = freePort();
    start(
        "etcd",
        List.of(
            KUBE.binary("etcd").toString(),
            "--name=mesh",
            "--data-dir=" + work.resolve("etcd"),
            "--listen-client-urls=http://127.0.0.1:" + etcdClient,
            "--advertise-client-urls=http://127.0.0.1:" + etcdClient,
            "--listen-peer-urls=http://127.0.0.1:" + etcdPeer,
            "--initial-advertise-peer-urls=http://127.0.0.1:" + etcdPeer,
            "--initial-cluster=mesh=http://127.0.0.1:" + etcdPeer,
            "--log-level=warn",
            "--unsafe-no-fsync"));
    Path p = work.resolve("pki");
    start(
        "kube-apiserver",
        List.of(
            KUBE.binary("kube-apiserver").toString(),
            "--etcd-servers=http://127.0.0.1:" + etcdClient,
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            // The endpoints reconciler refuses a loopback address and the API server would exit.
            "--endpoint-reconciler-type=none",
            "--secure-port=" + apiPort,
            "--tls-cert-file=" + p.resolve("apiserver.crt"),
            "--tls-private-key-file=" + p.resolve("apiserver.key"),
            "--client-ca-file=" + p.resolve("ca.crt"),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file=" + p.resolve("sa.pub"),
            "--service-account-signing-key-file=" + p.resolve("sa.key"),
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=Node,RBAC",
            // No controller-manager runs, so no default service account is ever made.
            "--disable-admission-plugins=ServiceAccount",
            "--kubelet-client-certificate=" + p.resolve("apiserver-kubelet-client.crt"),
            "--kubelet-client-key=" + p.resolve("apiserver-kubelet-client.key"),
            "--kubelet-certificate-authority=" + p.resolve("ca.crt"),
            "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false",
            "--cert-dir=" + work.resolve("apiserver-certs")));
    String api = "https://127.0.0.1:" + apiPort;
    kubeconfig = work.resolve("admin.kubeconfig");
    Files.writeString(kubeconfig, pki.kubeconfig("admin", api));
    client =
        new KubernetesClientBuilder()
            .withConfig(
                new io.fabric8.kubernetes.client.ConfigBuilder(Config.empty())
                    .withMasterUrl(api)
                    .withCaCertFile(p.resolve("ca.crt").toString())
                    .withClientCertFile(p.resolve("admin.crt").toString())
                    .withClientKeyFile(p.resolve("admin.key").toString())
                    .withClientKeyAlgo("EC")
                    .withNamespace("default")
                    .withRequestTimeout(30_000)
                    .build())
            .build();
    boolean ready =
        Build.eventually(
            () -> {
              requireRunning();
              try {
                return client.namespaces().withName("default").get() != null;
              } catch (RuntimeException e) {
                return false;
              }
            },
            Duration.ofSeconds(120));
    assertThat(ready).as("the API server ready; its log:%n%s", log("kube-apiserver")).isTrue();

    client
        .nodes()
        .resource(new NodeBuilder().withNewMetadata().withName(NODE).endMetadata().build())
        .create();
    client
        .nodes()
        .withName(NODE)
        .editStatus(
            n ->
                new NodeBuilder(n)
                    .withNewStatus()
                    .addNewAddress()
                    .withType("InternalIP")
                    .withAddress("127.0.0.1")
                    .endAddress()
                    .withNewDaemonEndpoints()
                    .withNewKubeletEndpoint()
                    .withPort(kubelet.port())
                    .endKubeletEndpoint()
                    .endDaemonEndpoints()
                    .endStatus()
                    .build());
    client
        .pods()
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("x")
                .withNamespace("default")
                .endMetadata()
                .withNewSpec()
                .withNodeName(NODE)
                .addNewContainer()
                .withName("app")
                .withImage("app")
                .endContainer()
                // In the pod's spec, unknown to the node: the kubelet's 404.
                .addNewContainer()
                .withName("ghost")
                .withImage("ghost")
                .endContainer()
                .addNewContainer()
                .withName("tailed")
                .withImage("tailed")
                .endContainer()
                .endSpec()
                .build())
        .create();
    client
        .pods()
        .withName("x")
        .editStatus(
            pod -> new PodBuilder(pod).editOrNewStatus().withPhase("Running").endStatus().build());
  }

  @AfterAll
  static void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    for (int i = started.size() - 1; i >= 0; i--) {
      stop(started.get(i));
    }
    if (kubelet != null) {
      kubelet.close();
    }
    if (echo != null) {
      echo.close();
    }
    if (work != null) {
      try (Stream<Path> s = Files.walk(work)) {
        s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  @Test
  void onlyTheApiServersClientCertificateIsLetIn() {
    Path p = work.resolve("pki");
    String url = "https://127.0.0.1:" + kubelet.port() + "/healthz";
    Host.Result apiserver =
        Host.run(
            "curl",
            "-sS",
            "--cacert",
            p.resolve("ca.crt").toString(),
            "--cert",
            p.resolve("apiserver-kubelet-client.crt").toString(),
            "--key",
            p.resolve("apiserver-kubelet-client.key").toString(),
            url);
    assertThat(apiserver.stdout().strip()).as(apiserver.stderr()).isEqualTo("ok");
    // The cluster CA's admin is a user of the cluster, not the API server: refused.
    Host.Result admin =
        Host.run(
            "curl",
            "-sS",
            "--cacert",
            p.resolve("ca.crt").toString(),
            "--cert",
            p.resolve("admin.crt").toString(),
            "--key",
            p.resolve("admin.key").toString(),
            url);
    assertThat(admin.exitCode()).isNotZero();
    Host.Result none = Host.run("curl", "-sS", "--cacert", p.resolve("ca.crt").toString(), url);
    assertThat(none.exitCode()).isNotZero();
  }

  @Test
  void servesOnAUnixSocketAsTheControlPlanesRelayReachesIt() {
    Path p = work.resolve("pki");
    Path socket = work.resolve("kubelet.sock");
    try (KubeletServer onSocket =
        KubeletServer.start(
            java.net.UnixDomainSocketAddress.of(socket),
            KubeletServer.Tls.files(
                p.resolve("kubelet-serving.crt"),
                p.resolve("kubelet-serving.key"),
                p.resolve("kubelet-client-ca.crt")),
            new TestPods())) {
      Host.Result r =
          Host.run(
              "curl",
              "-sS",
              "--unix-socket",
              socket.toString(),
              "--cacert",
              p.resolve("ca.crt").toString(),
              "--cert",
              p.resolve("apiserver-kubelet-client.crt").toString(),
              "--key",
              p.resolve("apiserver-kubelet-client.key").toString(),
              "https://127.0.0.1/containerLogs/default/x/app?tailLines=1");
      assertThat(r.stdout()).as(r.stderr()).isEqualTo("three\n");
    }
    assertThat(socket).doesNotExist();
  }

  @Test
  void kubectlLogsReadsTailsAndLimitsTheContainersLog() {
    assertThat(kubectl("logs", "pod/x", "-c", "app")).isEqualTo("one\ntwo\nthree");
    assertThat(kubectl("logs", "pod/x", "-c", "app", "--tail=2")).isEqualTo("two\nthree");
    assertThat(kubectl("logs", "pod/x", "-c", "app", "--limit-bytes=6")).isEqualTo("one\ntw");
    // A container of the spec this node does not know: the kubelet's 404, which the API
    // server reports as NotFound (without the kubelet's message, which curl shows below).
    Host.Result ghost = kubectlResult("logs", "pod/x", "-c", "ghost");
    assertThat(ghost.exitCode()).isNotZero();
    assertThat(ghost.stderr()).contains("NotFound");
    Path p = work.resolve("pki");
    Host.Result direct =
        Host.run(
            "curl",
            "-sS",
            "-w",
            "%{http_code}",
            "--cacert",
            p.resolve("ca.crt").toString(),
            "--cert",
            p.resolve("apiserver-kubelet-client.crt").toString(),
            "--key",
            p.resolve("apiserver-kubelet-client.key").toString(),
            "https://127.0.0.1:" + kubelet.port() + "/containerLogs/default/x/ghost");
    assertThat(direct.stdout())
        .isEqualTo("container \"ghost\" in pod \"default/x\" is not known\n404");
    // fabric8's client reads the same through the API server.
    assertThat(client.pods().withName("x").inContainer("app").getLog())
        .isEqualTo("one\ntwo\nthree\n");
  }

  @Test
  void kubectlLogsFollowSeesWhatIsAppendedLater() throws Exception {
    Path followLog = work.resolve("follow.log");
    Files.writeString(followLog, "before\n");
    TestPods.followLog = followLog;
    Process kubectl =
        new ProcessBuilder(kubectlCommand("logs", "-f", "pod/x", "-c", "tailed"))
            .redirectErrorStream(true)
            .start();
    started.add(kubectl);
    try {
      Lines out = new Lines(kubectl.getInputStream());
      assertThat(out.await("before", Duration.ofSeconds(30))).as(out.toString()).isTrue();
      Files.writeString(followLog, "after\n", StandardOpenOption.APPEND);
      assertThat(out.await("after", Duration.ofSeconds(30))).as(out.toString()).isTrue();
      assertThat(kubectl.isAlive()).as("still following").isTrue();
    } finally {
      stop(kubectl);
    }
  }

  @Test
  void kubectlPortForwardCarriesConnectionsToThePodsPort() throws Exception {
    Process kubectl =
        new ProcessBuilder(kubectlCommand("port-forward", "-v=6", "pod/x", "0:" + POD_PORT))
            .redirectErrorStream(true)
            .start();
    started.add(kubectl);
    try {
      Lines out = new Lines(kubectl.getInputStream());
      Pattern forwarding = Pattern.compile("Forwarding from 127\\.0\\.0\\.1:(\\d+) -> " + POD_PORT);
      assertThat(out.await(forwarding, Duration.ofSeconds(30))).as(out.toString()).isTrue();
      int local = Integer.parseInt(out.match(forwarding).group(1));
      assertThat(roundTrip(local, "hello\n".getBytes(StandardCharsets.UTF_8)))
          .as("kubectl: %s%napiserver: %s", out, log("kube-apiserver"))
          .isEqualTo("hello\n".getBytes(StandardCharsets.UTF_8));
      // More than SPDY's initial 64 KiB window, both ways: no flow control stalls it.
      byte[] big = new byte[3 * 1024 * 1024];
      new Random(7).nextBytes(big);
      assertThat(roundTrip(local, big)).isEqualTo(big);
      // A second connection through the same session.
      assertThat(roundTrip(local, "again".getBytes(StandardCharsets.UTF_8)))
          .isEqualTo("again".getBytes(StandardCharsets.UTF_8));
    } finally {
      stop(kubectl);
    }
  }

  @Test
  void fabric8PortForwardCarriesAConnectionOverWebSocket() throws Exception {
    try (LocalPortForward pf = client.pods().withName("x").portForward(POD_PORT)) {
      byte[] data = new byte[200_000];
      new Random(8).nextBytes(data);
      assertThat(roundTrip(pf.getLocalPort(), data)).isEqualTo(data);
    }
  }

  @Test
  void kubectlExecRunsTheCommandAndReportsItsExitCode() {
    Host.Result r =
        kubectlResult(
            "exec", "pod/x", "-c", "app", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3");
    assertThat(r.stdout()).as(r.toString()).isEqualTo("hi\n");
    assertThat(r.stderr()).contains("oops");
    assertThat(r.exitCode()).isEqualTo(3);
    Host.Result ok = kubectlResult("exec", "pod/x", "-c", "app", "--", "sh", "-c", "echo fine");
    assertThat(ok.exitCode()).as(ok.stderr()).isZero();
    assertThat(ok.stdout()).isEqualTo("fine\n");
    // stdin reaches the process and its end ends it.
    Host.Result cat =
        Host.run(kubectlCommand("exec", "-i", "pod/x", "-c", "app", "--", "cat"), "piped\n");
    assertThat(cat.exitCode()).as(cat.stderr()).isZero();
    assertThat(cat.stdout()).isEqualTo("piped\n");
  }

  @Test
  void fabric8ExecRunsTheCommandOverWebSocket() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ExecWatch w =
        client
            .pods()
            .withName("x")
            .inContainer("app")
            .writingOutput(out)
            .exec("sh", "-c", "echo from-fabric8; exit 4")) {
      assertThat(w.exitCode().get(30, TimeUnit.SECONDS)).isEqualTo(4);
    }
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("from-fabric8\n");
  }

  /** The pod behind the kubelet: a log file, an echo server on its port, host processes. */
  static final class TestPods implements KubeletPods {
    static volatile Path followLog;

    @Override
    public Optional<Path> logFile(String namespace, String pod, String container) {
      if (!namespace.equals("default") || !pod.equals("x")) {
        return Optional.empty();
      }
      return switch (container) {
        case "app" -> Optional.of(appLog);
        case "tailed" -> Optional.ofNullable(followLog);
        default -> Optional.empty();
      };
    }

    @Override
    public SocketChannel connect(String namespace, String pod, int port) throws IOException {
      if (port != POD_PORT) {
        throw new IOException("nothing listens on port " + port);
      }
      return SocketChannel.open(
          new InetSocketAddress(InetAddress.getLoopbackAddress(), echo.port()));
    }

    @Override
    public Process exec(
        String namespace, String pod, String container, List<String> command, boolean tty)
        throws IOException {
      return new ProcessBuilder(command).start();
    }
  }

  /** A real TCP echo server: one thread per connection, echoing until the client's end. */
  static final class EchoServer implements AutoCloseable {
    private final ServerSocket server;

    EchoServer() throws IOException {
      server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread t = new Thread(this::accept, "echo");
      t.setDaemon(true);
      t.start();
    }

    int port() {
      return server.getLocalPort();
    }

    private void accept() {
      while (!server.isClosed()) {
        try {
          Socket s = server.accept();
          Thread t =
              new Thread(
                  () -> {
                    try (s) {
                      s.getInputStream().transferTo(s.getOutputStream());
                    } catch (IOException e) {
                      // The client went: this connection is done.
                    }
                  },
                  "echo-conn");
          t.setDaemon(true);
          t.start();
        } catch (IOException e) {
          return;
        }
      }
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }

  /** Writes {@code data} through the local port, half-closes, reads the echo to its end. */
  private static byte[] roundTrip(int port, byte[] data) throws Exception {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(30_000);
      Thread writer =
          new Thread(
              () -> {
                try {
                  OutputStream o = s.getOutputStream();
                  o.write(data);
                  o.flush();
                  s.shutdownOutput();
                } catch (IOException e) {
                  // The read below fails too and says so.
                }
              });
      writer.start();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[65536];
      try {
        while (got.size() < data.length) {
          int n = in.read(buf);
          if (n < 0) {
            break;
          }
          got.write(buf, 0, n);
        }
      } catch (IOException e) {
        // What came before the failure is the answer; the assertion on it says what is missing.
      }
      writer.join(30_000);
      return got.toByteArray();
    }
  }

  /** A process's output lines, collected as they come. */
  static final class Lines {
    private final List<String> lines = new CopyOnWriteArrayList<>();

    Lines(InputStream in) {
      Thread t =
          new Thread(
              () -> {
                try (BufferedReader r =
                    new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                  for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                  }
                } catch (IOException e) {
                  // The process ended.
                }
              },
              "lines");
      t.setDaemon(true);
      t.start();
    }

    boolean await(String line, Duration within) {
      return Build.eventually(() -> lines.contains(line), within);
    }

    boolean await(Pattern p, Duration within) {
      return Build.eventually(() -> match(p) != null, within);
    }

    Matcher match(Pattern p) {
      for (String l : lines) {
        Matcher m = p.matcher(l);
        if (m.find()) {
          return m;
        }
      }
      return null;
    }

    @Override
    public String toString() {
      return String.join("\n", lines);
    }
  }

  private static List<String> kubectlCommand(String... args) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                KUBE.binary("kubectl").toString(),
                "--kubeconfig=" + kubeconfig,
                "--cache-dir=" + work.resolve("kubectl-cache")));
    cmd.addAll(List.of(args));
    return cmd;
  }

  private static Host.Result kubectlResult(String... args) {
    return Host.run(kubectlCommand(args), null);
  }

  private static String kubectl(String... args) {
    return kubectlResult(args).orThrow("kubectl " + String.join(" ", args)).stdout().strip();
  }

  private static void start(String name, List<String> cmd) throws IOException {
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(work.resolve(name + ".log").toFile())
            .start();
    started.add(p);
    Files.writeString(
        work.resolve(Sweeper.PIDS),
        p.pid() + "\n",
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }

  private static void requireRunning() {
    for (Process p : started) {
      if (!p.isAlive()) {
        throw new IllegalStateException(
            p.info().command().orElse("?")
                + " exited "
                + p.exitValue()
                + ":\n"
                + log("kube-apiserver")
                + "\n"
                + log("etcd"));
      }
    }
  }

  private static String log(String name) {
    try {
      List<String> l = Files.readAllLines(work.resolve(name + ".log"));
      return String.join("\n", l.subList(Math.max(0, l.size() - 30), l.size()));
    } catch (IOException e) {
      return "(no " + name + ".log)";
    }
  }

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

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
