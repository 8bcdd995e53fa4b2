package dev.mesh.proxy.xds;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.SupportedFields;
import dev.mesh.proxy.listener.ListenerManager;
import dev.mesh.proxy.stats.Stats;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Envoy's ADS client, state of the world: one gRPC stream to the management server carries CDS,
 * EDS, LDS and RDS. Each response is checked and applied whole, then ACKed with its version and
 * nonce; one that cannot be honoured is NACKed with the reason and the previous version, and the
 * previous config keeps serving. Listeners warm: a set that names route configurations not yet
 * received waits for them, while the listeners in force keep serving. When the stream breaks, the
 * client reconnects with exponential backoff and keeps the last good config meanwhile. Over TLS
 * whose certificate comes by SDS (a sidecar's xds-grpc), it connects once the secrets are in.
 */
public final class AdsClient implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(AdsClient.class.getName());

  public static final String CDS = dev.mesh.api.XdsTypes.CLUSTER;
  public static final String EDS = dev.mesh.api.XdsTypes.ENDPOINT;
  public static final String LDS = dev.mesh.api.XdsTypes.LISTENER;
  public static final String RDS = dev.mesh.api.XdsTypes.ROUTE;
  public static final String SDS = dev.mesh.api.XdsTypes.SECRET;
  private static final String METHOD =
      "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
  private static final String DELTA_METHOD =
      "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
  private static final long FIRST_BACKOFF_MS = 250;
  private static final long MAX_BACKOFF_MS = 30_000;

  /**
   * Where the management server is, the connection type that reaches it, the protocol variant
   * (state of the world, or delta: Envoy's api_type DELTA_GRPC), and the TLS of its cluster's
   * transport socket (null for plaintext).
   */
  public record Target(
      java.net.SocketAddress address,
      Class<? extends io.netty.channel.Channel> channelType,
      String authority,
      boolean delta,
      dev.mesh.proxy.tls.TlsContext tls) {
    /** The TLS context for a new connection: null for plaintext, or while its secrets are due. */
    io.netty.handler.ssl.SslContext sslContext() {
      return tls == null ? null : tls.current();
    }

    /** Whether the TLS it needs waits for SDS secrets that have not arrived. */
    boolean awaitsSecrets() {
      return tls != null && tls.current() == null;
    }

    String sni() {
      return tls == null ? "" : tls.sni();
    }
  }

  /** One resource type's subscription and what was last accepted or refused for it. */
  public static final class TypeState {
    final String typeUrl;
    final boolean wildcard;
    Set<String> names = new LinkedHashSet<>();
    String version = "";
    String nonce = "";
    volatile String lastError;
    volatile long lastUpdatedMillis;
    volatile String acceptedVersion = "";
    // The resources in force, by name, with their versions (what delta updates and resends).
    Map<String, Any> accepted = Map.of();
    Map<String, String> resourceVersions = Map.of();
    final Stats.Counter success;
    final Stats.Counter rejected;

    TypeState(String typeUrl, boolean wildcard, Stats stats, String scope, String prefix) {
      this.typeUrl = typeUrl;
      this.wildcard = wildcard;
      Stats.Scope s = new Stats.Scope(scope, null, null);
      this.success = stats.counter(s, prefix + ".update_success");
      this.rejected = stats.counter(s, prefix + ".update_rejected");
    }

    public String acceptedVersion() {
      return acceptedVersion;
    }

    public long lastUpdatedMillis() {
      return lastUpdatedMillis;
    }

    public String lastError() {
      return lastError;
    }
  }

  private final Target target;
  private final EventLoop loop;
  private final Node node;
  private final ClusterManager clusters;
  private final ListenerManager listeners;
  private final List<Cluster> staticClusters;
  private final List<Listener> staticListeners;
  private final Runnable onFirstConfig;
  private final Stats.Gauge connected;
  private final Map<String, TypeState> types = new LinkedHashMap<>();
  private final dev.mesh.proxy.secret.SecretManager secrets;

  private List<Cluster> dynamicClusters = List.of();
  private List<Listener> dynamicListeners = List.of();
  // A listener set that waits for route configurations it names.
  private List<Listener> warmingListeners;
  private Map<String, ClusterLoadAssignment> assignments = Map.of();
  private Map<String, RouteConfiguration> routeConfigs = Map.of();

  private GrpcStream stream;
  private long backoffMs = FIRST_BACKOFF_MS;
  private boolean firstConfigDone;
  private volatile boolean closed;

  public AdsClient(
      Target target,
      EventLoop loop,
      Node node,
      ClusterManager clusters,
      ListenerManager listeners,
      List<Cluster> staticClusters,
      List<Listener> staticListeners,
      Stats stats,
      dev.mesh.proxy.secret.SecretManager secrets,
      Runnable onFirstConfig) {
    this.secrets = secrets;
    this.target = target;
    this.loop = loop;
    this.node = node;
    this.clusters = clusters;
    this.listeners = listeners;
    this.staticClusters = List.copyOf(staticClusters);
    this.staticListeners = List.copyOf(staticListeners);
    this.onFirstConfig = onFirstConfig;
    this.connected = stats.gauge(new Stats.Scope("control_plane", null, null), "connected_state");
    types.put(CDS, new TypeState(CDS, true, stats, "cluster_manager", "cds"));
    types.put(EDS, new TypeState(EDS, false, stats, "cluster_manager", "eds"));
    types.put(LDS, new TypeState(LDS, true, stats, "listener_manager", "lds"));
    types.put(RDS, new TypeState(RDS, false, stats, "http", "rds"));
    types.put(SDS, new TypeState(SDS, false, stats, "sds", "ads"));
    // The static listeners and clusters subscribed already, before this stream existed.
    types.get(SDS).names = secrets.names(dev.mesh.proxy.secret.SecretManager.ADS);
  }

  public void start() {
    if (target.tls() != null) {
      // Its certificate comes by SDS (the agent's, in a sidecar): the first connection waits for
      // it rather than failing, and a later secret needs no reconnect (new connections take it).
      target.tls().onChange(() -> loop.execute(this::secretsArrived));
    }
    loop.execute(this::connect);
  }

  private boolean awaitingSecrets;

  private void secretsArrived() {
    if (awaitingSecrets && !target.awaitsSecrets()) {
      awaitingSecrets = false;
      connect();
    }
  }

  /** The state of each resource type, by type URL, for config_dump. */
  public Map<String, TypeState> types() {
    return types;
  }

  public synchronized List<Cluster> dynamicClusters() {
    return dynamicClusters;
  }

  public synchronized List<Listener> dynamicListeners() {
    return dynamicListeners;
  }

  public synchronized List<Listener> warmingListeners() {
    return warmingListeners == null ? List.of() : warmingListeners;
  }

  public synchronized Map<String, RouteConfiguration> routeConfigs() {
    return routeConfigs;
  }

  private void connect() {
    if (closed) {
      return;
    }
    if (target.awaitsSecrets()) {
      if (!awaitingSecrets) {
        awaitingSecrets = true;
        LOG.info(
            "xDS: "
                + target.address()
                + ": waiting for TLS secrets "
                + target.tls().secrets()
                + " before connecting");
      }
      return;
    }
    GrpcStream.open(
        loop,
        target.channelType(),
        target.address(),
        target.authority(),
        target.delta() ? DELTA_METHOD : METHOD,
        target.sslContext(),
        target.sni(),
        new GrpcStream.Listener() {
          @Override
          public void onMessage(ByteBuf message) {
            try {
              if (target.delta()) {
                handleDelta(DeltaDiscoveryResponse.parseFrom(message.nioBuffer()));
              } else {
                handle(DiscoveryResponse.parseFrom(message.nioBuffer()));
              }
            } catch (InvalidProtocolBufferException e) {
              LOG.warning("xDS: a response that does not parse: " + e.getMessage());
              return;
            }
            backoffMs = FIRST_BACKOFF_MS;
          }

          @Override
          public void onClose(int status, String message) {
            connected.set(0);
            stream = null;
            retryLater("stream closed, grpc-status " + status + " (" + message + ")");
          }
        },
        opened -> {
          if (closed) {
            opened.cancel();
            return;
          }
          stream = opened;
          connected.set(1);
          LOG.info("xDS: connected to " + target.address());
          // Resubscribe to everything, with the versions we hold, so the server can tell what
          // we have (Envoy does the same after a reconnect).
          for (TypeState t : types.values()) {
            if (t.wildcard || !t.names.isEmpty()) {
              t.nonce = "";
              if (target.delta()) {
                sendDeltaSubscription(t, t.names, Set.of(), true);
              } else {
                send(t, null);
              }
            }
          }
        },
        failure -> retryLater("cannot connect: " + failure.getMessage()));
  }

  private void retryLater(String why) {
    if (closed) {
      return;
    }
    long delay = backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1);
    backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
    LOG.warning(
        "xDS: "
            + target.address()
            + ": "
            + why
            + "; retrying in "
            + delay
            + " ms, keeping the"
            + " last good config");
    loop.schedule(this::connect, delay, TimeUnit.MILLISECONDS);
  }

  private void send(TypeState t, String error) {
    GrpcStream s = stream;
    if (s == null) {
      return;
    }
    if (target.delta()) {
      DeltaDiscoveryRequest.Builder r =
          DeltaDiscoveryRequest.newBuilder()
              .setNode(node)
              .setTypeUrl(t.typeUrl)
              .setResponseNonce(t.nonce);
      if (error != null) {
        r.setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(error));
      }
      s.send(r.build());
      return;
    }
    DiscoveryRequest.Builder r =
        DiscoveryRequest.newBuilder()
            .setTypeUrl(t.typeUrl)
            .setVersionInfo(t.version)
            .setResponseNonce(t.nonce)
            .addAllResourceNames(t.names);
    // Every request carries the node, as Envoy's do unless set_node_on_first_message_only.
    r.setNode(node);
    if (error != null) {
      r.setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(error));
    }
    s.send(r.build());
  }

  private void handle(DiscoveryResponse response) {
    TypeState t = types.get(response.getTypeUrl());
    if (t == null) {
      LOG.warning("xDS: response of unsubscribed type " + response.getTypeUrl() + " ignored");
      return;
    }
    // CDS and LDS responses carry the whole set; EDS and RDS ones may carry only some of the
    // subscribed resources, the others staying as they are.
    Map<String, Any> next = new LinkedHashMap<>();
    if (!t.wildcard) {
      next.putAll(t.accepted);
    }
    for (Any any : response.getResourcesList()) {
      next.put(resourceName(any, t.typeUrl), any);
    }
    apply(t, response.getVersionInfo(), response.getNonce(), next, Map.of());
  }

  private void handleDelta(DeltaDiscoveryResponse response) {
    TypeState t = types.get(response.getTypeUrl());
    if (t == null) {
      LOG.warning("xDS: response of unsubscribed type " + response.getTypeUrl() + " ignored");
      return;
    }
    Map<String, Any> next = new LinkedHashMap<>(t.accepted);
    Map<String, String> versions = new LinkedHashMap<>(t.resourceVersions);
    for (var r : response.getResourcesList()) {
      next.put(r.getName(), r.getResource());
      versions.put(r.getName(), r.getVersion());
    }
    for (String removed : response.getRemovedResourcesList()) {
      next.remove(removed);
      versions.remove(removed);
    }
    apply(t, response.getSystemVersionInfo(), response.getNonce(), next, versions);
  }

  /** Checks and applies a type's whole new set; ACKs it, or NACKs it keeping the old one. */
  private void apply(
      TypeState t,
      String version,
      String nonce,
      Map<String, Any> next,
      Map<String, String> versions) {
    t.nonce = nonce;
    try {
      synchronized (this) {
        Map<String, Any> inForce = new LinkedHashMap<>(next);
        if (!t.wildcard) {
          inForce.keySet().retainAll(t.names);
        }
        List<Any> all = List.copyOf(inForce.values());
        switch (t.typeUrl) {
          case CDS -> applyClusters(unpack(all, t.typeUrl, Cluster.class));
          case EDS -> applyEndpoints(unpack(all, t.typeUrl, ClusterLoadAssignment.class));
          case LDS -> applyListeners(unpack(all, t.typeUrl, Listener.class));
          case RDS -> applyRoutes(unpack(all, t.typeUrl, RouteConfiguration.class));
          case SDS ->
              secrets.apply(
                  dev.mesh.proxy.secret.SecretManager.ADS,
                  unpack(
                      all,
                      t.typeUrl,
                      io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret.class),
                  version);
          default -> throw new IllegalStateException(t.typeUrl);
        }
        t.accepted = Map.copyOf(next);
        t.resourceVersions = Map.copyOf(versions);
      }
    } catch (ConfigRejectedException e) {
      t.rejected.inc();
      // A server may send the refused version again and again: one line, not one per copy.
      String line =
          shortType(t.typeUrl)
              + " update version "
              + version
              + " rejected, keeping version '"
              + t.version
              + "': "
              + e.getMessage();
      if (!line.equals(t.lastError)) {
        LOG.warning("xDS: " + line);
      }
      t.lastError = line;
      send(t, e.getMessage());
      return;
    }
    t.version = version;
    t.acceptedVersion = t.version;
    t.lastError = null;
    t.lastUpdatedMillis = System.currentTimeMillis();
    t.success.inc();
    send(t, null);
    // A change of what clusters and listeners name changes what EDS and RDS subscribe to.
    subscribe(types.get(EDS), edsNames());
    Set<String> routeNames = rdsNames(dynamicListeners);
    if (warmingListeners != null) {
      routeNames.addAll(rdsNames(warmingListeners));
    }
    subscribe(types.get(RDS), routeNames);
    subscribe(types.get(SDS), secrets.names(dev.mesh.proxy.secret.SecretManager.ADS));
    if (!firstConfigDone
        && types.get(CDS).lastUpdatedMillis > 0
        && types.get(LDS).lastUpdatedMillis > 0
        && warmingListeners == null) {
      firstConfigDone = true;
      onFirstConfig.run();
    }
  }

  private static String resourceName(Any any, String typeUrl) {
    try {
      return switch (typeUrl) {
        case CDS -> any.unpack(Cluster.class).getName();
        case EDS -> any.unpack(ClusterLoadAssignment.class).getClusterName();
        case LDS -> any.unpack(Listener.class).getName();
        case RDS -> any.unpack(RouteConfiguration.class).getName();
        case SDS ->
            any.unpack(io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret.class)
                .getName();
        default -> "";
      };
    } catch (InvalidProtocolBufferException e) {
      return "?" + any.hashCode(); // refused when the set is unpacked and checked
    }
  }

  /** Delta: subscribe to added names, unsubscribe from removed ones (all, on a new stream). */
  private void sendDeltaSubscription(
      TypeState t, Set<String> subscribe, Set<String> unsubscribe, boolean fresh) {
    GrpcStream s = stream;
    if (s == null) {
      return;
    }
    DeltaDiscoveryRequest.Builder r =
        DeltaDiscoveryRequest.newBuilder()
            .setNode(node)
            .setTypeUrl(t.typeUrl)
            .addAllResourceNamesSubscribe(subscribe)
            .addAllResourceNamesUnsubscribe(unsubscribe);
    if (fresh) {
      r.putAllInitialResourceVersions(t.resourceVersions); // what we hold, so only news comes
    }
    s.send(r.build());
  }

  private void subscribe(TypeState t, Set<String> names) {
    if (!names.equals(t.names)) {
      Set<String> added = new java.util.TreeSet<>(names);
      added.removeAll(t.names);
      Set<String> removed = new java.util.TreeSet<>(t.names);
      removed.removeAll(names);
      t.names = names;
      if (target.delta()) {
        sendDeltaSubscription(t, added, removed, false);
      } else {
        send(t, null);
      }
    }
  }

  private void applyClusters(List<Cluster> received) {
    Set<String> staticNames = new java.util.HashSet<>();
    staticClusters.forEach(c -> staticNames.add(c.getName()));
    for (Cluster c : received) {
      if (staticNames.contains(c.getName())) {
        throw new ConfigRejectedException(
            "cluster " + c.getName() + ": a static cluster of that name exists");
      }
    }
    List<Cluster> all = new ArrayList<>(staticClusters);
    all.addAll(received);
    clusters.apply(all);
    dynamicClusters = List.copyOf(received);
  }

  private void applyEndpoints(List<ClusterLoadAssignment> received) {
    Map<String, ClusterLoadAssignment> next = new LinkedHashMap<>();
    for (ClusterLoadAssignment cla : received) {
      next.put(cla.getClusterName(), cla);
    }
    clusters.applyEndpoints(next);
    assignments = Map.copyOf(next);
  }

  private void applyListeners(List<Listener> received) {
    Set<String> staticNames = new java.util.HashSet<>();
    staticListeners.forEach(l -> staticNames.add(l.getName()));
    for (Listener l : received) {
      if (staticNames.contains(l.getName())) {
        throw new ConfigRejectedException(
            "listener " + l.getName() + ": a static listener of that name exists");
      }
    }
    List<Listener> all = new ArrayList<>(staticListeners);
    all.addAll(received);
    listeners.check(all);
    if (routeConfigs.keySet().containsAll(rdsNames(received))) {
      listeners.apply(all);
      dynamicListeners = List.copyOf(received);
      warmingListeners = null;
    } else {
      warmingListeners = List.copyOf(received); // served once their routes arrive
    }
  }

  private void applyRoutes(List<RouteConfiguration> received) {
    Map<String, RouteConfiguration> next = new LinkedHashMap<>();
    for (RouteConfiguration rc : received) {
      next.put(rc.getName(), rc);
    }
    listeners.applyRoutes(next);
    routeConfigs = Map.copyOf(next);
    if (warmingListeners != null && next.keySet().containsAll(rdsNames(warmingListeners))) {
      List<Listener> all = new ArrayList<>(staticListeners);
      all.addAll(warmingListeners);
      listeners.apply(all);
      dynamicListeners = warmingListeners;
      warmingListeners = null;
      LOG.info("xDS: warmed listeners are serving: " + dynamicListeners.size());
    }
  }

  private Set<String> edsNames() {
    Set<String> names = new java.util.TreeSet<>();
    for (Cluster c : dynamicClusters) {
      if (c.getType() == Cluster.DiscoveryType.EDS) {
        String service = c.getEdsClusterConfig().getServiceName();
        names.add(service.isEmpty() ? c.getName() : service);
      }
    }
    for (Cluster c : staticClusters) {
      if (c.getType() == Cluster.DiscoveryType.EDS) {
        String service = c.getEdsClusterConfig().getServiceName();
        names.add(service.isEmpty() ? c.getName() : service);
      }
    }
    return names;
  }

  /** The route configurations the listeners' connection managers take from RDS. */
  private Set<String> rdsNames(List<Listener> ls) {
    Set<String> names = new java.util.TreeSet<>();
    List<Listener> all = new ArrayList<>(staticListeners);
    all.addAll(ls);
    for (Listener l : all) {
      for (var fc : l.getFilterChainsList()) {
        for (var f : fc.getFiltersList()) {
          if (f.getTypedConfig().is(HttpConnectionManager.class)) {
            try {
              var hcm = f.getTypedConfig().unpack(HttpConnectionManager.class);
              if (hcm.hasRds()) {
                names.add(hcm.getRds().getRouteConfigName());
              }
            } catch (InvalidProtocolBufferException e) {
              // listeners.check refused it already
            }
          }
        }
      }
    }
    return names;
  }

  private static <T extends Message> List<T> unpack(List<Any> all, String typeUrl, Class<T> type) {
    List<T> out = new ArrayList<>(all.size());
    for (Any any : all) {
      T resource;
      try {
        resource = any.unpack(type);
      } catch (InvalidProtocolBufferException e) {
        throw new ConfigRejectedException(
            "resource of type " + any.getTypeUrl() + " in a " + shortType(typeUrl) + " response");
      }
      try {
        SupportedFields.check(resource);
      } catch (ConfigRejectedException e) {
        throw new ConfigRejectedException(name(resource) + ": " + e.getMessage(), e);
      }
      out.add(resource);
    }
    return out;
  }

  private static String name(Message m) {
    var field = m.getDescriptorForType().findFieldByName("name");
    if (field == null) {
      field = m.getDescriptorForType().findFieldByName("cluster_name");
    }
    return m.getDescriptorForType().getName() + " " + (field == null ? "?" : m.getField(field));
  }

  private static String shortType(String typeUrl) {
    return dev.mesh.api.XdsTypes.shortName(typeUrl);
  }

  @Override
  public void close() {
    closed = true;
    loop.execute(
        () -> {
          if (stream != null) {
            stream.cancel();
          }
        });
  }
}
