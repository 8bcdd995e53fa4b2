import dev.mesh.local.mesh.LocalMesh;
import dev.mesh.local.netns.Host;
import dev.mesh.local.netns.NamespaceHttp;
import dev.mesh.local.netns.NetworkNamespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * bench/sidecar.sh's driver, run by the java launcher from source against meshctl.jar (which holds
 * mesh-local): the local mesh, a client and a server pod injected by the webhook, h2load at a fixed
 * rate from the client's app through both sidecars, and what each istio-proxy container costs.
 *
 * <p>Arguments: repository root, seconds measured, seconds of warm-up, requests per second,
 * services for phase (b), the CPU for the sidecars (or "" for no pinning), "nmt" or "".
 */
public final class SidecarBench {
  static final String NS = "bench";
  static final String SCALE_NS = "scale";
  static final String URL = "http://server." + NS + ".svc.cluster.local/";
  static final int CONNECTIONS = 10;
  static final long TICKS_PER_SECOND = 100; // USER_HZ on Linux

  /** One istio-proxy container's figures in a phase. */
  record Sidecar(
      String pod,
      long readyMs,
      long rssIdleKb,
      long pssIdleKb,
      long rssPeakKb,
      long pssPeakKb,
      long rssAfterKb,
      long cpuTicks) {}

  /** A phase's figures: the load and each sidecar. */
  record Phase(
      String name, Load load, List<Sidecar> sidecars, Map<String, String> nmt, long othersTicks) {}

  /** What h2load reported, and its own CPU. */
  record Load(
      int asked,
      double held,
      long succeeded,
      long failed,
      double p50ms,
      double p99ms,
      long loadTicks,
      String summary) {}

  public static void main(String[] args) throws Exception {
    Path root = Path.of(args[0]).toAbsolutePath();
    int seconds = Integer.parseInt(args[1]);
    int warmup = Integer.parseInt(args[2]);
    int rate = Integer.parseInt(args[3]);
    int services = Integer.parseInt(args[4]);
    String proxyCpu = args.length > 5 ? args[5] : "";
    boolean nmt = args.length > 6 && args[6].equals("nmt");
    Path work =
        Files.createTempDirectory(
            Path.of("/tmp"), "mesh-" + ProcessHandle.current().pid() + "-bench-");
    Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxrwxrwx"));
    List<Phase> phases = new ArrayList<>();
    try (LocalMesh mesh = new LocalMesh("bench", root)) {
      Runtime.getRuntime().addShutdownHook(new Thread(mesh::close));
      mesh.cluster.apply(
          new NamespaceBuilder()
              .withNewMetadata()
              .withName(NS)
              .addToLabels("istio-injection", "enabled")
              .endMetadata()
              .build());
      mesh.cluster.apply(
          new ServiceBuilder()
              .withNewMetadata()
              .withName("server")
              .withNamespace(NS)
              .endMetadata()
              .withNewSpec()
              .addToSelector("app", "server")
              .addNewPort()
              .withName("http")
              .withPort(80)
              .withNewTargetPort(8080)
              .endPort()
              .endSpec()
              .build());
      phases.add(phase(mesh, "(a) the pair only", work, seconds, warmup, rate, proxyCpu, nmt));
      addServices(mesh.cluster.client(), services);
      // Pilot has them all once a running sidecar has the last one; then the pods start afresh.
      awaitCluster(mesh, "client", services - 1);
      mesh.cluster.deletePod(NS, "client");
      mesh.cluster.deletePod(NS, "server");
      phases.add(
          phase(
              mesh,
              "(b) pilot also serving " + services + " services",
              work,
              seconds,
              warmup,
              rate,
              proxyCpu,
              nmt));
    } finally {
      try (var files = Files.walk(work)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
    print(phases, seconds, proxyCpu);
  }

  static Phase phase(
      LocalMesh mesh,
      String name,
      Path work,
      int seconds,
      int warmup,
      int rate,
      String proxyCpu,
      boolean nmt)
      throws Exception {
    System.out.println(name + ": starting the pods ...");
    mesh.cluster.createPod(pod("server", "0.0.0.0:8080", nmt), 300);
    mesh.cluster.createPod(pod("client", "0.0.0.0:8000", nmt), 300);
    Map<String, ProcessHandle> proxies = new java.util.LinkedHashMap<>();
    for (String pod : List.of("client", "server")) {
      ProcessHandle p =
          mesh.cluster
              .containerProcess(NS, pod, "istio-proxy")
              .orElseThrow(() -> new IllegalStateException(pod + "'s istio-proxy is not running"));
      proxies.put(pod, p);
      if (!proxyCpu.isEmpty()) {
        // Every thread of the JVM; threads it starts later inherit the affinity.
        Host.run("taskset", "-a", "-p", "-c", proxyCpu, Long.toString(p.pid()))
            .orThrow("pinning " + pod + "'s istio-proxy");
      }
    }
    NetworkNamespace client = mesh.cluster.namespaceOf(NS, "client");
    if (!NamespaceHttp.request(client, 1000, "server." + NS + ".svc.cluster.local", 80, "GET /")
        .stdout()
        .contains(" 200 ")) {
      throw new IllegalStateException("the client cannot reach the server through the mesh");
    }
    Map<String, long[]> idle = new ConcurrentHashMap<>();
    // Idle: ready, configured, a request through, nothing else for a few seconds.
    Thread.sleep(seconds < 10 ? 1_000 : 5_000); // the idle period measured, not a synchronisation
    proxies.forEach((pod, p) -> idle.put(pod, memory(p)));
    if (warmup > 0) {
      System.out.println(name + ": warm-up, " + warmup + " s at " + rate + " req/s ...");
      h2load(client, work, rate, warmup, false);
    }
    Map<String, Long> cpuBefore = new java.util.HashMap<>();
    proxies.forEach((pod, p) -> cpuBefore.put(pod, cpuTicks(p)));
    Map<String, long[]> peak = new ConcurrentHashMap<>();
    proxies.keySet().forEach(pod -> peak.put(pod, new long[2]));
    Thread sampler =
        new Thread(
            () -> {
              while (!Thread.currentThread().isInterrupted()) {
                proxies.forEach(
                    (pod, p) -> {
                      long[] m = memory(p);
                      long[] top = peak.get(pod);
                      top[0] = Math.max(top[0], m[0]);
                      top[1] = Math.max(top[1], m[1]);
                    });
                try {
                  Thread.sleep(500); // the sampling period
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    sampler.setDaemon(true);
    System.out.println(name + ": measuring, " + seconds + " s at " + rate + " req/s ...");
    sampler.start();
    long cpuBusyBefore = busyTicks(proxyCpu);
    Load load = h2load(client, work, rate, seconds, true);
    long cpuBusy = busyTicks(proxyCpu) - cpuBusyBefore;
    Map<String, String> nmtSummaries = new java.util.LinkedHashMap<>();
    if (nmt) {
      proxies.forEach(
          (pod, p) ->
              nmtSummaries.put(
                  pod,
                  Host.run("jcmd", Long.toString(p.pid()), "VM.native_memory", "summary")
                      .stdout()));
    }
    sampler.interrupt();
    sampler.join();
    List<Sidecar> out = new ArrayList<>();
    for (var e : proxies.entrySet()) {
      String pod = e.getKey();
      long[] after = memory(e.getValue());
      out.add(
          new Sidecar(
              pod,
              readyMs(mesh.cluster.logOf(NS, pod, "istio-proxy")),
              idle.get(pod)[0],
              idle.get(pod)[1],
              peak.get(pod)[0],
              peak.get(pod)[1],
              after[0],
              cpuTicks(e.getValue()) - cpuBefore.get(pod)));
    }
    long sidecarTicks = out.stream().mapToLong(Sidecar::cpuTicks).sum();
    return new Phase(name, load, out, nmtSummaries, cpuBusy - sidecarTicks);
  }

  static Pod pod(String name, String address, boolean nmt) {
    PodBuilder b =
        new PodBuilder()
            .withNewMetadata()
            .withName(name)
            .withNamespace(NS)
            .addToLabels("app", name)
            .endMetadata();
    // A short drain, since the phases delete their pods (no drain is measured). The sidecar's
    // environment, through Istio's way to give it one, ProxyConfig's proxyMetadata: with --nmt
    // its JVM tracks its native memory; SIDECAR_ENV ("NAME=value;...") adds variables, for trying
    // JVM flags (JAVA_TOOL_OPTIONS) or allocator settings without changing the template.
    Map<String, String> env = new java.util.TreeMap<>();
    String extra = System.getenv().getOrDefault("SIDECAR_ENV", "");
    for (String kv : extra.split(";")) {
      if (kv.contains("=")) {
        env.put(kv.substring(0, kv.indexOf('=')).strip(), kv.substring(kv.indexOf('=') + 1));
      }
    }
    if (nmt) {
      env.merge("JAVA_TOOL_OPTIONS", "-XX:NativeMemoryTracking=summary", (a, c) -> a + " " + c);
    }
    StringBuilder config = new StringBuilder("terminationDrainDuration: 1s\n");
    if (!env.isEmpty()) {
      config.append("proxyMetadata:\n");
      env.forEach((k, v) -> config.append("  ").append(k).append(": '").append(v).append("'\n"));
    }
    b = b.editMetadata().addToAnnotations("proxy.istio.io/config", config.toString()).endMetadata();
    return b.withNewSpec()
        .addNewContainer()
        .withName("app")
        .withImage(LocalMesh.ECHO_IMAGE)
        .withArgs(address)
        .addNewPort()
        .withName("http")
        .withContainerPort(Integer.parseInt(address.substring(address.indexOf(':') + 1)))
        .endPort()
        .endContainer()
        .endSpec()
        .build();
  }

  /** h2load from the client's app (uid 1000), at a fixed rate, its own CPU read by its shell. */
  static Load h2load(NetworkNamespace client, Path work, int rate, int seconds, boolean measured)
      throws IOException, InterruptedException {
    Path log = work.resolve("h2load-" + System.nanoTime() + ".log");
    int perConnection = Math.max(1, rate / CONNECTIONS);
    String script =
        ("h2load --h1 -t 1 -c %d --rps %d -D %d --log-file %s %s; "
                + "read -r -a s < /proc/$$/stat; echo \"load-cpu-ticks $((s[15] + s[16]))\"")
            .formatted(CONNECTIONS, perConnection, seconds, log, URL);
    Process p =
        new ProcessBuilder(
                client.wrap(
                    List.of(
                        "setpriv",
                        "--reuid=1000",
                        "--regid=1000",
                        "--clear-groups",
                        "bash",
                        "-c",
                        script)))
            .redirectErrorStream(true)
            .start();
    var output = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(p));
    if (!p.waitFor(seconds + 60L, java.util.concurrent.TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("h2load did not end " + (seconds + 60) + " s after it began");
    }
    String out = output.join();
    if (!out.contains("load-cpu-ticks") || !out.contains("succeeded")) {
      throw new IllegalStateException("h2load did not run: " + out.strip());
    }
    if (!measured) {
      return null;
    }
    long succeeded = number(out, "(\\d+) succeeded");
    long failed = number(out, "(\\d+) failed");
    Matcher held = Pattern.compile("finished in [0-9.]+s, ([0-9.]+) req/s").matcher(out);
    double[] latencies =
        Files.exists(log)
            ? Files.readAllLines(log).stream()
                .map(l -> l.split("\\s+"))
                .filter(f -> f.length >= 3)
                .mapToDouble(f -> Double.parseDouble(f[2]) / 1000.0)
                .sorted()
                .toArray()
            : new double[0];
    return new Load(
        perConnection * CONNECTIONS,
        held.find() ? Double.parseDouble(held.group(1)) : 0,
        succeeded,
        failed,
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        number(out, "load-cpu-ticks (\\d+)"),
        out.lines()
            .filter(l -> l.startsWith("requests:") || l.startsWith("finished in"))
            .reduce("", (a, b) -> a + "  " + b.strip() + "\n"));
  }

  static String read(Process p) {
    try {
      return new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /** 1,000 Services with 3 endpoints each, as bench/pilot.sh's registry, straight to the API. */
  static void addServices(KubernetesClient api, int services) {
    System.out.println("adding " + services + " services (3 endpoints each) to the API ...");
    api.resource(new NamespaceBuilder().withNewMetadata().withName(SCALE_NS).endMetadata().build())
        .create();
    for (int i = 0; i < services; i++) {
      String name = "svc-" + i;
      api.resource(
              new ServiceBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .withNamespace(SCALE_NS)
                  .endMetadata()
                  .withNewSpec()
                  .withClusterIP("10.100." + (i / 250) + "." + (i % 250 + 1))
                  .addNewPort()
                  .withName("http")
                  .withPort(8080)
                  .withNewTargetPort(8080)
                  .endPort()
                  .endSpec()
                  .build())
          .create();
      EndpointSliceBuilder slice =
          new EndpointSliceBuilder()
              .withNewMetadata()
              .withName(name + "-a")
              .withNamespace(SCALE_NS)
              .addToLabels("kubernetes.io/service-name", name)
              .endMetadata()
              .withAddressType("IPv4")
              .addNewPort()
              .withName("http")
              .withPort(8080)
              .endPort();
      for (int e = 0; e < 3; e++) {
        int ip = i * 3 + e;
        slice
            .addNewEndpoint()
            .withAddresses("10." + (200 + ip / 65536) + "." + (ip / 256 % 256) + "." + (ip % 256))
            .withNewConditions()
            .withReady(true)
            .endConditions()
            .endEndpoint();
      }
      api.resource(slice.build()).create();
    }
  }

  /** Waits until a pod's sidecar has the cluster of service svc-{@code index}. */
  static void awaitCluster(LocalMesh mesh, String pod, int index) throws Exception {
    String cluster = "outbound|8080||svc-" + index + "." + SCALE_NS + ".svc.cluster.local";
    NetworkNamespace ns = mesh.cluster.namespaceOf(NS, pod);
    LocalMesh.await(
        () ->
            NamespaceHttp.request(ns, 0, "127.0.0.1", 15000, "GET /clusters")
                .stdout()
                .contains(cluster + "::observability_name"),
        300,
        "pilot's push of " + cluster + " to " + pod);
  }

  /** Rss and Pss (kB) of a container's process and everything it started. */
  static long[] memory(ProcessHandle p) {
    long[] sum = new long[2];
    List<ProcessHandle> all = new ArrayList<>(List.of(p));
    p.descendants().forEach(all::add);
    for (ProcessHandle h : all) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/" + h.pid() + "/smaps_rollup"))) {
          String[] f = line.split("\\s+");
          if (f[0].equals("Rss:")) {
            sum[0] += Long.parseLong(f[1]);
          } else if (f[0].equals("Pss:")) {
            sum[1] += Long.parseLong(f[1]);
          }
        }
      } catch (IOException e) {
        // ended meanwhile
      }
    }
    return sum;
  }

  /** utime + stime of a container's process and everything it started, in clock ticks. */
  static long cpuTicks(ProcessHandle p) {
    long sum = 0;
    List<ProcessHandle> all = new ArrayList<>(List.of(p));
    p.descendants().forEach(all::add);
    for (ProcessHandle h : all) {
      try {
        String stat = Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        sum += Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
      } catch (IOException e) {
        // ended meanwhile
      }
    }
    return sum;
  }

  /**
   * Busy clock ticks of the sidecars' CPU (or of all CPUs unpinned), from /proc/stat: what else ran
   * there shows as the difference to the sidecars' own.
   */
  static long busyTicks(String cpu) {
    try {
      String name = cpu.isEmpty() ? "cpu" : "cpu" + cpu;
      for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
        String[] f = line.split("\\s+");
        if (f[0].equals(name)) {
          long busy = 0;
          for (int i : new int[] {1, 2, 3, 6, 7, 8}) { // user nice system irq softirq steal
            busy += Long.parseLong(f[i]);
          }
          return busy;
        }
      }
    } catch (IOException e) {
      // no /proc/stat: nothing to tell
    }
    return 0;
  }

  /** The agent's own line: "proxy ready: ... N ms after the process started". */
  static long readyMs(String log) {
    Matcher m = Pattern.compile("proxy ready: .*?(\\d+) ms after the process started").matcher(log);
    long last = -1;
    while (m.find()) {
      last = Long.parseLong(m.group(1));
    }
    return last;
  }

  static long number(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  static double percentile(double[] sorted, double q) {
    return sorted.length == 0
        ? Double.NaN
        : sorted[(int) Math.min(sorted.length - 1, q * sorted.length)];
  }

  static void print(List<Phase> phases, int seconds, String proxyCpu) {
    System.out.println();
    System.out.println(
        "CPU pinning: "
            + (proxyCpu.isEmpty()
                ? "none (one CPU)"
                : "both istio-proxy containers on CPU "
                    + proxyCpu
                    + " once ready; h2load, the apps, pilot, the injector and this driver on the"
                    + " others (the sidecars start there too)"));
    for (Phase ph : phases) {
      Load l = ph.load();
      System.out.println();
      System.out.printf(
          "%s: %d req/s asked for %d s, %.1f held; %d succeeded, %d failed; latency p50 %.2f ms,"
              + " p99 %.2f ms (client app to server app, both sidecars)%n",
          ph.name(), l.asked(), seconds, l.held(), l.succeeded(), l.failed(), l.p50ms(), l.p99ms());
      if (l.held() < 0.95 * l.asked()) {
        System.out.printf(
            "  the machine held %.0f req/s of the %d asked: the figures are at that rate%n",
            l.held(), l.asked());
      }
      System.out.printf(
          "  other work on the sidecars' CPU meanwhile (kernel work for their traffic included):"
              + " %.0f%% of it%n",
          ph.othersTicks() * 100.0 / TICKS_PER_SECOND / seconds);
      System.out.printf(
          "  load generator (h2load, 1 thread, %d connections): %.2f CPU s, %.1f us per request%n",
          CONNECTIONS,
          l.loadTicks() / (double) TICKS_PER_SECOND,
          perRequestMicros(l.loadTicks(), l.succeeded()));
      System.out.printf(
          "  %-22s %9s %9s %10s %10s %10s %11s %9s%n",
          "istio-proxy of",
          "RSS idle",
          "PSS idle",
          "RSS peak",
          "PSS peak",
          "RSS after",
          "CPU us/req",
          "ready ms");
      for (Sidecar s : ph.sidecars()) {
        System.out.printf(
            "  %-22s %6.1f MB %6.1f MB %7.1f MB %7.1f MB %7.1f MB %11.1f %9d%n",
            NS + "/" + s.pod(),
            s.rssIdleKb() / 1024.0,
            s.pssIdleKb() / 1024.0,
            s.rssPeakKb() / 1024.0,
            s.pssPeakKb() / 1024.0,
            s.rssAfterKb() / 1024.0,
            perRequestMicros(s.cpuTicks(), l.succeeded()),
            s.readyMs());
      }
      ph.nmt()
          .forEach(
              (pod, summary) -> {
                System.out.println("  NMT of " + NS + "/" + pod + "'s istio-proxy under load:");
                summary
                    .lines()
                    .filter(x -> x.startsWith("Total") || x.startsWith("-"))
                    .map(x -> x.replaceAll("reserved=\\d+KB, ", "").replaceAll("\\s+", " "))
                    .forEach(x -> System.out.println("    " + x.strip()));
              });
    }
  }

  static double perRequestMicros(long ticks, long requests) {
    return requests <= 0 ? Double.NaN : ticks * 1_000_000.0 / TICKS_PER_SECOND / requests;
  }

  private SidecarBench() {}
}
