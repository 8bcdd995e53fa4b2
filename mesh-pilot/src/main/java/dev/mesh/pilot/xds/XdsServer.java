package dev.mesh.pilot.xds;

import dev.mesh.api.NodeId;
import dev.mesh.api.XdsTypes;
import dev.mesh.pilot.model.ServiceIndex;
import dev.mesh.pilot.registry.Registry;
import io.envoyproxy.controlplane.cache.v3.SimpleCache;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import io.envoyproxy.controlplane.server.DiscoveryServerCallbacks;
import io.envoyproxy.controlplane.server.V3DiscoveryServer;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.BindableService;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Pilot's ADS: java-control-plane's server and snapshot cache (it speaks the protocol: state of the
 * world and delta, ACK and NACK), one snapshot per connected proxy, made by {@link
 * SidecarGenerator} from the registry. Changes are debounced (20 ms) and pushed only where a
 * proxy's config changed, type by type: a snapshot version is a digest of that type's resources, so
 * an endpoint change moves EDS alone.
 */
public final class XdsServer implements DiscoveryServerCallbacks, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(XdsServer.class.getName());
  // Changes within this long after the first are pushed together (Istio waits 100 ms of quiet;
  // a shorter window converges faster, and generation is shared, so pushes stay cheap).
  private static final long DEBOUNCE_MS = 20;

  private final Registry registry;
  private final String domain;
  private final SidecarGenerator generator;
  private final SimpleCache<String> cache = new SharedDiffCache();
  private final V3DiscoveryServer server;
  private final SyncStatus sync = new SyncStatus();
  private final PushThrottle throttle =
      new PushThrottle(
          new PushThrottle.Limits(100, 4 << 20, TimeUnit.SECONDS.toNanos(10)),
          (proxy, snapshot) -> cache.setSnapshot(proxy, snapshot),
          new PushThrottle.Sent() {
            @Override
            public String nonce(String proxy, String type) {
              return sync.sentNonce(proxy, type);
            }

            @Override
            public long bytes(String proxy) {
              return sync.sentBytes(proxy);
            }
          });
  private final PilotMetrics metrics;
  private final Map<Long, String> streams = new ConcurrentHashMap<>();
  // Each proxy's node, as its first request had it: its metadata picks the generator.
  private final Map<String, io.envoyproxy.envoy.config.core.v3.Node> nodes =
      new ConcurrentHashMap<>();
  private static final com.google.protobuf.Value EMPTY =
      com.google.protobuf.Value.getDefaultInstance();
  private final Map<String, ProxyResources> current = new ConcurrentHashMap<>();
  // Per proxy and type: the version made for a change, and when the change was seen.
  private final Map<String, long[]> changeSeen = new ConcurrentHashMap<>();
  private final Map<String, String> pendingVersion = new ConcurrentHashMap<>();
  private final ScheduledExecutorService pusher =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "pilot-push");
            t.setDaemon(true);
            return t;
          });
  private volatile ServiceIndex index;
  // Where a push's time goes: making config, and handing it to the cache (which answers watches).
  private long generateNanos;
  private long sendNanos;
  private final SecurityNotice securityNotice;
  private final dev.mesh.pilot.security.SecuritySettings security;
  private boolean pushScheduled;
  private long firstChangeNanos;

  public XdsServer(Registry registry, String domain, Problems problems) {
    this(registry, domain, problems, dev.mesh.pilot.security.SecuritySettings.DEFAULTS);
  }

  public XdsServer(
      Registry registry,
      String domain,
      Problems problems,
      dev.mesh.pilot.security.SecuritySettings security) {
    this(registry, domain, problems, security, dev.mesh.pilot.telemetry.AccessLogs.NONE);
  }

  public XdsServer(
      Registry registry,
      String domain,
      Problems problems,
      dev.mesh.pilot.security.SecuritySettings security,
      dev.mesh.pilot.telemetry.AccessLogs accessLogs) {
    this.registry = registry;
    this.domain = domain;
    this.security = security;
    this.securityNotice = new SecurityNotice(security.mtls());
    this.generator = new SidecarGenerator(problems, security, accessLogs);
    this.metrics = new PilotMetrics(() -> problems.count() + registry.invalidResources());
    // The cached serializer packs each resource once however many proxies share it.
    this.server =
        new V3DiscoveryServer(
            List.of(this),
            cache,
            new io.envoyproxy.controlplane.server.DefaultExecutorGroup(),
            new io.envoyproxy.controlplane.server.serializer.CachedProtoResourcesSerializer());
  }

  /**
   * Starts the registry and serves once it has read everything (informers synced, files read): a
   * proxy that connects earlier would otherwise be sent an empty mesh.
   */
  public void start() {
    registry.start(this::changed);
    index = new ServiceIndex(registry.current(), domain);
    securityNotice.check(index.snapshot());
    pusher.scheduleWithFixedDelay(throttle::expire, 1, 1, TimeUnit.SECONDS);
  }

  /** The ADS service, for the gRPC server to serve. */
  public BindableService ads() {
    return server.getAggregatedDiscoveryServiceImpl();
  }

  public SyncStatus sync() {
    return sync;
  }

  public PilotMetrics metrics() {
    return metrics;
  }

  /** The config last made for a proxy, or null. */
  public ProxyResources configOf(String proxyId) {
    return current.get(proxyId);
  }

  /** The registry changed: push everyone once things settle. */
  synchronized void changed() {
    if (!pushScheduled) {
      pushScheduled = true;
      firstChangeNanos = System.nanoTime();
      pusher.schedule(this::pushAll, DEBOUNCE_MS, TimeUnit.MILLISECONDS);
    }
  }

  private void pushAll() {
    long seen;
    synchronized (this) {
      pushScheduled = false;
      seen = firstChangeNanos;
    }
    long begin = System.nanoTime();
    generateNanos = 0;
    sendNanos = 0;
    ServiceIndex previous = index;
    ServiceIndex next = new ServiceIndex(registry.current(), domain);
    java.util.Set<String> moved = previous == null ? null : next.endpointChangesSince(previous);
    index = next;
    securityNotice.check(next.snapshot());
    Map<String, ClusterLoadAssignment> fresh =
        moved == null ? null : ClusterGenerator.assignments(next, moved, security);
    int n = 0;
    // Proxies without a config yet get theirs made from this index when their turn comes.
    for (String proxy : List.copyOf(current.keySet())) {
      if (fresh != null) {
        pushEndpoints(proxy, previous, fresh, seen);
      } else {
        push(proxy, seen);
      }
      n++;
    }
    LOG.info(
        "push: "
            + n
            + " proxies in "
            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin)
            + " ms, "
            + TimeUnit.NANOSECONDS.toMillis(begin - seen)
            + " ms after the change was seen"
            + (moved == null ? "" : ", endpoints of " + moved.size() + " services only")
            + " (generating "
            + TimeUnit.NANOSECONDS.toMillis(generateNanos)
            + " ms, answering watches "
            + TimeUnit.NANOSECONDS.toMillis(sendNanos)
            + " ms)");
  }

  private synchronized void push(String proxy, long changeNanos) {
    if (index == null) {
      return; // not serving yet: the registry has not been read
    }
    NodeId node = node(proxy);
    if (node == null) {
      return;
    }
    io.envoyproxy.envoy.config.core.v3.Node meta = nodes.get(proxy);
    boolean proxyless = meta != null && "grpc".equals(metadata(meta, "GENERATOR"));
    boolean tproxy = meta != null && "TPROXY".equals(metadata(meta, "INTERCEPTION_MODE"));
    long t0 = System.nanoTime();
    ProxyResources r = generator.generate(index, node, proxyless, tproxy);
    generateNanos += System.nanoTime() - t0;
    apply(proxy, r, changeNanos);
  }

  /**
   * Only endpoints changed: the proxy's last config with the new assignments of the services that
   * moved, nothing generated again; a full push for a proxy whose own pod's ports changed.
   */
  private synchronized void pushEndpoints(
      String proxy,
      ServiceIndex previous,
      Map<String, ClusterLoadAssignment> fresh,
      long changeNanos) {
    ProxyResources before = current.get(proxy);
    NodeId node = node(proxy);
    if (before == null
        || node == null
        || !previous
            .workloadPorts(node.ipAddress())
            .equals(index.workloadPorts(node.ipAddress()))) {
      push(proxy, changeNanos);
      return;
    }
    long t0 = System.nanoTime();
    ProxyResources r = index.memo("endpoints of " + versions(before), () -> before.with(fresh));
    generateNanos += System.nanoTime() - t0;
    apply(proxy, r, changeNanos);
  }

  private static String metadata(io.envoyproxy.envoy.config.core.v3.Node node, String key) {
    return node.getMetadata().getFieldsOrDefault(key, EMPTY).getStringValue();
  }

  private static NodeId node(String proxy) {
    try {
      return NodeId.parse(proxy);
    } catch (IllegalArgumentException e) {
      LOG.warning("proxy " + proxy + ": node id not understood, no config: " + e.getMessage());
      return null;
    }
  }

  private static String versions(ProxyResources r) {
    return r.cdsVersion() + " " + r.edsVersion() + " " + r.ldsVersion() + " " + r.rdsVersion();
  }

  /** Makes a proxy's config current and hands it to the cache, which answers its watches. */
  private void apply(String proxy, ProxyResources r, long changeNanos) {
    ProxyResources before = current.put(proxy, r);
    if (before != null && versions(before).equals(versions(r))) {
      return;
    }
    note(
        proxy,
        XdsTypes.CLUSTER,
        r.cdsVersion(),
        before == null ? null : before.cdsVersion(),
        changeNanos);
    note(
        proxy,
        XdsTypes.ENDPOINT,
        r.edsVersion(),
        before == null ? null : before.edsVersion(),
        changeNanos);
    note(
        proxy,
        XdsTypes.LISTENER,
        r.ldsVersion(),
        before == null ? null : before.ldsVersion(),
        changeNanos);
    note(
        proxy,
        XdsTypes.ROUTE,
        r.rdsVersion(),
        before == null ? null : before.rdsVersion(),
        changeNanos);
    // Proxies with the same config share one snapshot, built once per change.
    Snapshot snapshot =
        index.memo(
            "snapshot " + versions(r),
            () ->
                Snapshot.create(
                    r.clusters(),
                    r.cdsVersion(),
                    r.endpoints(),
                    r.edsVersion(),
                    r.listeners(),
                    r.ldsVersion(),
                    r.routes(),
                    r.rdsVersion(),
                    List.of(),
                    ""));
    long t1 = System.nanoTime();
    throttle.offer(proxy, snapshot, before == null);
    sendNanos += System.nanoTime() - t1;
  }

  private void note(String proxy, String type, String version, String before, long changeNanos) {
    SyncStatus.TypeSync t = sync.of(proxy, type);
    if (t.nackError != null && version.equals(t.ackedVersion)) {
      // The refused config is gone and the proxy still runs what pilot now wants: nothing will be
      // sent (the proxy asked for exactly this version), so it is in sync as it stands.
      t.nackError = null;
      t.nackedVersion = null;
      t.sentVersion = version;
      pendingVersion.remove(proxy + " " + type);
      changeSeen.remove(proxy + " " + type);
      return;
    }
    if (!version.equals(before)) {
      metrics.pushed(XdsTypes.shortName(type));
      pendingVersion.put(proxy + " " + type, version);
      changeSeen.put(proxy + " " + type, new long[] {changeNanos});
    }
  }

  // --- java-control-plane callbacks: who is connected, what they ACK and NACK ---

  @Override
  public void onV3StreamRequest(long streamId, DiscoveryRequest request) {
    onRequest(
        streamId,
        request.getNode(),
        request.getTypeUrl(),
        request.getVersionInfo(),
        request.getResponseNonce(),
        request.hasErrorDetail() ? request.getErrorDetail().getMessage() : null);
  }

  @Override
  public void onV3StreamDeltaRequest(long streamId, DeltaDiscoveryRequest request) {
    onRequest(
        streamId,
        request.getNode(),
        request.getTypeUrl(),
        null,
        request.getResponseNonce(),
        request.hasErrorDetail() ? request.getErrorDetail().getMessage() : null);
  }

  private void onRequest(
      long streamId,
      io.envoyproxy.envoy.config.core.v3.Node node,
      String type,
      String version,
      String nonce,
      String error) {
    String nodeId = node.getId();
    if (!nodeId.isEmpty()) {
      nodes.putIfAbsent(nodeId, node);
    }
    String proxy = streams.get(streamId);
    if (proxy == null && !nodeId.isEmpty()) {
      proxy = nodeId;
      streams.put(streamId, proxy);
      metrics.connected.set(streams.values().stream().distinct().count());
      if (!current.containsKey(proxy)) {
        LOG.info("proxy " + proxy + " connected");
        String connected = proxy;
        long at = System.nanoTime();
        pusher.execute(
            () -> {
              if (streams.containsValue(connected) && !current.containsKey(connected)) {
                push(connected, at);
              }
            });
      }
    }
    if (proxy == null || nonce.isEmpty()) {
      return;
    }
    SyncStatus.TypeSync t = sync.of(proxy, type);
    if (error != null) {
      if (!error.equals(t.nackError)) {
        LOG.warning("proxy " + proxy + " rejected " + XdsTypes.shortName(type) + ": " + error);
      }
      t.nackedVersion = t.sentVersion;
      t.nackError = error;
      metrics.rejected(XdsTypes.shortName(type));
      throttle.answered(proxy, type);
      return;
    }
    String acked = version != null ? version : t.sentVersion; // delta requests carry no version
    if (nonce.equals(t.sentNonce)) {
      t.ackedVersion = acked;
      t.nackError = null;
      t.nackedVersion = null;
      String key = proxy + " " + type;
      if (acked.equals(pendingVersion.get(key))) {
        pendingVersion.remove(key);
        long[] seen = changeSeen.remove(key);
        if (seen != null) {
          metrics.converged((System.nanoTime() - seen[0]) / 1e9);
        }
      }
    }
    // Any answer of the type counts, also one on another stream of the same proxy (a reconnect
    // overlapping the old stream): a share freed early costs less than one held to the timeout.
    throttle.answered(proxy, type);
  }

  @Override
  public void onV3StreamResponse(
      long streamId, DiscoveryRequest request, DiscoveryResponse response) {
    sent(
        streamId,
        response.getTypeUrl(),
        response.getVersionInfo(),
        response.getNonce(),
        response.getSerializedSize());
  }

  @Override
  public void onV3StreamDeltaResponse(
      long streamId, DeltaDiscoveryRequest request, DeltaDiscoveryResponse response) {
    sent(
        streamId,
        response.getTypeUrl(),
        response.getSystemVersionInfo(),
        response.getNonce(),
        response.getSerializedSize());
  }

  private void sent(long streamId, String type, String version, String nonce, int bytes) {
    String proxy = streams.get(streamId);
    if (proxy == null) {
      return;
    }
    SyncStatus.TypeSync t = sync.of(proxy, type);
    t.sentVersion = version;
    t.sentNonce = nonce;
    t.sentAtMillis = System.currentTimeMillis();
    t.sentBytes += bytes;
  }

  @Override
  public void onStreamClose(long streamId, String typeUrl) {
    closed(streamId);
  }

  @Override
  public void onStreamCloseWithError(long streamId, String typeUrl, Throwable error) {
    closed(streamId);
  }

  private void closed(long streamId) {
    String proxy = streams.remove(streamId);
    if (proxy != null && !streams.containsValue(proxy)) {
      LOG.info("proxy " + proxy + " disconnected");
      cache.clearSnapshot(proxy);
      current.remove(proxy);
      throttle.forget(proxy);
      String prefix = proxy + " ";
      pendingVersion.keySet().removeIf(k -> k.startsWith(prefix));
      changeSeen.keySet().removeIf(k -> k.startsWith(prefix));
      nodes.remove(proxy);
      sync.forget(proxy);
    }
    metrics.connected.set(streams.values().stream().distinct().count());
  }

  @Override
  public void close() {
    pusher.shutdownNow();
    registry.close();
  }
}
