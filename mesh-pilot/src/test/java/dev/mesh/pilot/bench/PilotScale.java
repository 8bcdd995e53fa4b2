package dev.mesh.pilot.bench;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.mesh.api.XdsTypes;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.service.discovery.v3.AggregatedDiscoveryServiceGrpc;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Pilot at scale (run by bench/pilot.sh): a generated registry of S services with E endpoints each
 * and V VirtualServices in a config directory, pilot as a child process, and C simulated sidecars
 * in this process, each an ADS stream (grpc-java) that subscribes and ACKs as Envoy does. Prints
 * the time until every client has a full config, the convergence p50 and p99 after one endpoint
 * change and after one VirtualService change (change written → new version received), pilot's CPU
 * seconds and peak RSS.
 */
public final class PilotScale {
  private PilotScale() {}

  public static void main(String[] args) throws Exception {
    String jar = args[0];
    Path work = Path.of(args[1]);
    int services = Integer.parseInt(args[2]);
    int endpoints = Integer.parseInt(args[3]);
    int virtualServices = Integer.parseInt(args[4]);
    int clients = Integer.parseInt(args[5]);
    String jvmFlags = args.length > 6 ? args[6] : "";
    boolean delta = args.length > 7 && args[7].equals("delta");
    Path config = Files.createDirectories(work.resolve("config"));
    writeServices(config, services, endpoints, 0);
    writeVirtualServices(config, services, virtualServices, "5s");

    int grpcPort = freePort();
    int httpPort = freePort();
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    if (!jvmFlags.isBlank()) {
      cmd.addAll(List.of(jvmFlags.trim().split("\\s+")));
    }
    cmd.addAll(
        List.of(
            "-jar",
            jar,
            "--config-dir=" + config,
            "--server.port=" + httpPort,
            "--validation-port=0",
            "--spring.grpc.server.port=" + grpcPort,
            "--logging.level.root=WARN",
            "--logging.level.dev.mesh=INFO"));
    Process pilot =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(work.resolve("pilot.log").toFile())
            .start();
    try {
      awaitPort(grpcPort, 120);
      long started = System.nanoTime();
      List<ManagedChannel> channels = new ArrayList<>();
      for (int i = 0; i < Math.max(1, clients / 100); i++) {
        channels.add(
            ManagedChannelBuilder.forAddress("127.0.0.1", grpcPort).usePlaintext().build());
      }
      List<Client> all = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        all.add(new Client(channels.get(i % channels.size()), i, delta));
      }
      awaitAll(all, c -> c.full(), 600);
      double fullSeconds = (System.nanoTime() - started) / 1e9;

      // One endpoint change: the first service's first endpoint moves.
      Map<Client, String> edsBefore = versions(all, XdsTypes.ENDPOINT);
      long t0 = System.nanoTime();
      writeServices(config, services, endpoints, 1);
      awaitAll(all, c -> !c.version(XdsTypes.ENDPOINT).equals(edsBefore.get(c)), 120);
      List<Double> eds = latencies(all, XdsTypes.ENDPOINT, t0);
      int edsBytes = all.get(0).sizes.get(XdsTypes.ENDPOINT);

      // One VirtualService change: the first one's timeout.
      Map<Client, String> rdsBefore = versions(all, XdsTypes.ROUTE);
      long t1 = System.nanoTime();
      writeVirtualServices(config, services, virtualServices, "7s");
      awaitAll(all, c -> !c.version(XdsTypes.ROUTE).equals(rdsBefore.get(c)), 120);
      List<Double> rds = latencies(all, XdsTypes.ROUTE, t1);
      int rdsBytes = all.get(0).sizes.get(XdsTypes.ROUTE);

      long pid = pilot.pid();
      double cpu = cpuSeconds(pid);
      long rssKb = peakRssKb(pid);
      System.out.printf(
          "registry: %d services x %d endpoints, %d VirtualServices; %d ADS clients (%s)%n",
          services, endpoints, virtualServices, clients, delta ? "delta" : "state of the world");
      System.out.printf("all clients with a full config: %.2f s%n", fullSeconds);
      System.out.printf(
          "endpoint change -> EDS:          p50 %6.1f ms   p99 %6.1f ms   (target p99 <= 100 ms)"
              + "   %,d bytes per proxy%n",
          pct(eds, 50), pct(eds, 99), edsBytes);
      System.out.printf(
          "VirtualService change -> RDS:    p50 %6.1f ms   p99 %6.1f ms   (target p99 <= 1000 ms)"
              + "   %,d bytes per proxy%n",
          pct(rds, 50), pct(rds, 99), rdsBytes);
      System.out.printf(
          "pilot CPU: %.1f s   peak RSS: %d MB   (target RSS <= 1024 MB)%n", cpu, rssKb / 1024);
      for (ManagedChannel c : channels) {
        c.shutdownNow();
      }
    } finally {
      pilot.destroy();
      pilot.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** One simulated sidecar: subscribes to CDS and LDS, then to the EDS and RDS names they use. */
  static final class Client {
    final int n;
    final boolean delta;
    StreamObserver<DiscoveryRequest> out;
    StreamObserver<io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest> deltaOut;
    final Node node;
    final Map<String, String> versions = new ConcurrentHashMap<>();
    final Map<String, Long> received = new ConcurrentHashMap<>();
    // Per type, the size of the last response: what one change costs to send to one proxy.
    final Map<String, Integer> sizes = new ConcurrentHashMap<>();

    Client(ManagedChannel channel, int n, boolean delta) {
      this.n = n;
      this.delta = delta;
      this.node =
          Node.newBuilder()
              .setId(
                  "sidecar~10.250."
                      + (n / 250)
                      + "."
                      + (n % 250 + 1)
                      + "~client-"
                      + n
                      + ".bench~bench.svc.cluster.local")
              .build();
      if (delta) {
        deltaOut =
            AggregatedDiscoveryServiceGrpc.newStub(channel)
                .deltaAggregatedResources(
                    new StreamObserver<>() {
                      @Override
                      public void onNext(
                          io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse r) {
                        sizes.put(r.getTypeUrl(), r.getSerializedSize());
                        handle(
                            r.getTypeUrl(),
                            r.getSystemVersionInfo(),
                            r.getNonce(),
                            r.getResourcesList().stream().map(x -> x.getResource()).toList(),
                            null);
                      }

                      @Override
                      public void onError(Throwable t) {
                        if (!String.valueOf(t.getMessage()).contains("shutdownNow")) {
                          System.err.println("client " + n + ": " + t);
                        }
                      }

                      @Override
                      public void onCompleted() {}
                    });
        subscribe(XdsTypes.CLUSTER, List.of());
        subscribe(XdsTypes.LISTENER, List.of());
        return;
      }
      out =
          AggregatedDiscoveryServiceGrpc.newStub(channel)
              .streamAggregatedResources(
                  new StreamObserver<>() {
                    @Override
                    public void onNext(DiscoveryResponse r) {
                      sizes.put(r.getTypeUrl(), r.getSerializedSize());
                      handle(r);
                    }

                    @Override
                    public void onError(Throwable t) {
                      if (!String.valueOf(t.getMessage()).contains("shutdownNow")) {
                        System.err.println("client " + n + ": " + t);
                      }
                    }

                    @Override
                    public void onCompleted() {}
                  });
      send(XdsTypes.CLUSTER, List.of(), null);
      send(XdsTypes.LISTENER, List.of(), null);
    }

    synchronized void send(String type, List<String> names, DiscoveryResponse ack) {
      DiscoveryRequest.Builder r =
          DiscoveryRequest.newBuilder().setNode(node).setTypeUrl(type).addAllResourceNames(names);
      if (ack != null) {
        r.setVersionInfo(ack.getVersionInfo()).setResponseNonce(ack.getNonce());
      }
      out.onNext(r.build());
    }

    void handle(DiscoveryResponse r) {
      handle(r.getTypeUrl(), r.getVersionInfo(), r.getNonce(), r.getResourcesList(), r);
    }

    synchronized void subscribe(String type, List<String> names) {
      deltaOut.onNext(
          io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest.newBuilder()
              .setNode(node)
              .setTypeUrl(type)
              .addAllResourceNamesSubscribe(names)
              .build());
    }

    synchronized void ackDelta(String type, String nonce) {
      deltaOut.onNext(
          io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest.newBuilder()
              .setNode(node) // as Envoy: the node in every request
              .setTypeUrl(type)
              .setResponseNonce(nonce)
              .build());
    }

    void handle(
        String type,
        String version,
        String nonce,
        List<com.google.protobuf.Any> resources,
        DiscoveryResponse sotw) {
      boolean first = !versions.containsKey(type);
      received.put(type, System.nanoTime());
      versions.put(type, version);
      List<String> subscribe = null;
      try {
        if (type.equals(XdsTypes.CLUSTER) && first) {
          subscribe = new ArrayList<>();
          for (var any : resources) {
            Cluster c = any.unpack(Cluster.class);
            if (c.getType() == Cluster.DiscoveryType.EDS) {
              subscribe.add(c.getEdsClusterConfig().getServiceName());
            }
          }
        } else if (type.equals(XdsTypes.LISTENER) && first) {
          subscribe = new ArrayList<>();
          for (var any : resources) {
            Listener l = any.unpack(Listener.class);
            for (var fc : l.getFilterChainsList()) {
              for (var f : fc.getFiltersList()) {
                if (f.getTypedConfig().is(HttpConnectionManager.class)) {
                  var hcm = f.getTypedConfig().unpack(HttpConnectionManager.class);
                  if (hcm.hasRds()) {
                    subscribe.add(hcm.getRds().getRouteConfigName());
                  }
                }
              }
            }
          }
        }
      } catch (InvalidProtocolBufferException e) {
        System.err.println("client " + n + ": " + e);
      }
      if (delta) {
        ackDelta(type, nonce);
      } else {
        send(type, currentNames(type), sotw); // ACK
      }
      if (subscribe != null) {
        String next = type.equals(XdsTypes.CLUSTER) ? XdsTypes.ENDPOINT : XdsTypes.ROUTE;
        names.put(next, subscribe);
        if (delta) {
          subscribe(next, subscribe);
        } else {
          send(next, subscribe, null);
        }
      }
    }

    final Map<String, List<String>> names = new ConcurrentHashMap<>();

    List<String> currentNames(String type) {
      return names.getOrDefault(type, List.of());
    }

    boolean full() {
      return versions.keySet().containsAll(XdsTypes.TRAFFIC);
    }

    String version(String type) {
      return versions.getOrDefault(type, "");
    }
  }

  static Map<Client, String> versions(List<Client> all, String type) {
    Map<Client, String> out = new ConcurrentHashMap<>();
    all.forEach(c -> out.put(c, c.version(type)));
    return out;
  }

  static List<Double> latencies(List<Client> all, String type, long since) {
    List<Double> out = new ArrayList<>();
    for (Client c : all) {
      out.add((c.received.get(type) - since) / 1e6);
    }
    Collections.sort(out);
    return out;
  }

  static double pct(List<Double> sorted, int p) {
    int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
  }

  static void awaitAll(List<Client> all, java.util.function.Predicate<Client> done, int seconds)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (all.stream().allMatch(done)) {
        return;
      }
      Thread.sleep(2); // poll interval; latencies are taken from each client's own clock
    }
    long missing = all.stream().filter(done.negate()).count();
    throw new IllegalStateException(missing + " clients did not get there in " + seconds + " s");
  }

  static void writeServices(Path dir, int services, int endpoints, int generation)
      throws IOException {
    int perFile = 100;
    for (int f = 0; f * perFile < services; f++) {
      StringBuilder b = new StringBuilder();
      for (int i = f * perFile; i < Math.min(services, (f + 1) * perFile); i++) {
        b.append(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: svc-%1$d, namespace: bench}
            spec:
              clusterIP: 10.100.%2$d.%3$d
              ports: [{name: http, port: 8080, targetPort: 8080}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: svc-%1$d-a, namespace: bench, labels: {kubernetes.io/service-name: svc-%1$d}}
            addressType: IPv4
            ports: [{name: http, port: 8080}]
            endpoints:
            """
                .formatted(i, i / 250, i % 250 + 1));
        for (int e = 0; e < endpoints; e++) {
          int ip = i * endpoints + e + (i == 0 && e == 0 ? generation * 100_000 : 0);
          b.append("- addresses: [\"10.")
              .append(200 + ip / 65536)
              .append('.')
              .append(ip / 256 % 256)
              .append('.')
              .append(ip % 256)
              .append("\"]\n");
        }
        b.append("---\n");
      }
      Path target = dir.resolve("services-" + f + ".yaml");
      // Write whole, then move into place, as a deploy tool would: readers never see half.
      Path tmp = dir.resolve(".services-" + f + ".tmp");
      Files.writeString(tmp, b.toString());
      if (generation == 0 || f == 0) {
        Files.move(
            tmp,
            target,
            java.nio.file.StandardCopyOption.REPLACE_EXISTING,
            java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      } else {
        Files.delete(tmp);
      }
    }
  }

  static void writeVirtualServices(Path dir, int services, int count, String firstTimeout)
      throws IOException {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < count; i++) {
      b.append(
          """
          apiVersion: networking.istio.io/v1
          kind: VirtualService
          metadata: {name: vs-%1$d, namespace: bench}
          spec:
            hosts: [svc-%1$d]
            http:
            - match: [{headers: {x-canary: {exact: "yes"}}}]
              route: [{destination: {host: svc-%2$d}}]
            - route: [{destination: {host: svc-%1$d}}]
              timeout: %3$s
          ---
          """
              .formatted(i, (i + 1) % services, i == 0 ? firstTimeout : "5s"));
    }
    Path tmp = dir.resolve(".vs.tmp");
    Files.writeString(tmp, b.toString());
    Files.move(
        tmp,
        dir.resolve("virtualservices.yaml"),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static void awaitPort(int port, int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException notYet) {
        Thread.sleep(100); // poll interval
      }
    }
    throw new IllegalStateException("pilot did not open port " + port + " in " + seconds + " s");
  }

  static double cpuSeconds(long pid) throws IOException {
    String[] f = Files.readString(Path.of("/proc/" + pid + "/stat")).split("\\) ")[1].split(" ");
    long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
    return ticks / 100.0;
  }

  static long peakRssKb(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmHWM:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return 0;
  }
}
