package dev.mesh.agent.bootstrap;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.mesh.agent.config.AgentSettings;
import dev.mesh.api.EnvoyNames;
import dev.mesh.api.IpAddresses;
import dev.mesh.api.MeshPorts;
import io.envoyproxy.envoy.config.bootstrap.v3.Admin;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.AggregatedConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.Http2ProtocolOptions;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.core.v3.Pipe;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.endpoint.v3.Endpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LbEndpoint;
import io.envoyproxy.envoy.config.endpoint.v3.LocalityLbEndpoints;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The proxy's bootstrap, as Istio's agent writes it: the node (id, cluster, metadata), ADS to pilot
 * (delta, the node in every request; over mutual TLS with the workload certificate where the pod
 * has one), the agent's SDS ({@code sds-grpc}), admin on 127.0.0.1:15000 and the 15090 listener
 * that serves /stats/prometheus. Built as Envoy's own message and printed as JSON, so it is a valid
 * Envoy bootstrap.
 */
public final class BootstrapWriter {
  private BootstrapWriter() {}

  static final String FILE = "envoy-rev.json";
  static final String PROMETHEUS_CLUSTER = "prometheus_stats";
  public static final String SDS_CLUSTER = EnvoyNames.SDS_CLUSTER;

  public static Bootstrap bootstrap(AgentSettings s) {
    ConfigSource ads =
        ConfigSource.newBuilder()
            .setAds(AggregatedConfigSource.getDefaultInstance())
            .setResourceApiVersion(ApiVersion.V3)
            .build();
    return Bootstrap.newBuilder()
        .setNode(node(s))
        .setDynamicResources(
            Bootstrap.DynamicResources.newBuilder()
                .setAdsConfig(
                    ApiConfigSource.newBuilder()
                        .setApiType(ApiConfigSource.ApiType.DELTA_GRPC)
                        .setTransportApiVersion(ApiVersion.V3)
                        .setSetNodeOnFirstMessageOnly(false)
                        .addGrpcServices(
                            GrpcService.newBuilder()
                                .setEnvoyGrpc(
                                    GrpcService.EnvoyGrpc.newBuilder()
                                        .setClusterName(EnvoyNames.XDS_CLUSTER))))
                .setCdsConfig(ads)
                .setLdsConfig(ads))
        .setStaticResources(
            Bootstrap.StaticResources.newBuilder()
                .addClusters(
                    xdsCluster(
                        s.discoveryAddress(),
                        s.identity().enabled() && s.identity().caAddress() != null))
                .addClusters(sdsCluster(s.identity().sdsSocket().toString()))
                .addClusters(
                    staticCluster(PROMETHEUS_CLUSTER, socket("127.0.0.1", MeshPorts.PROXY_ADMIN)))
                .addListeners(prometheusListener()))
        .setAdmin(Admin.newBuilder().setAddress(socket("127.0.0.1", MeshPorts.PROXY_ADMIN)))
        .build();
  }

  /** Writes the bootstrap where the proxy (uid 1337) can read it; returns its path. */
  public static Path write(AgentSettings s) {
    try {
      Files.createDirectories(s.configDir());
      Path file = s.configDir().resolve(FILE);
      // The printer must know the types packed in Any fields to print them as JSON.
      com.google.protobuf.TypeRegistry types =
          com.google.protobuf.TypeRegistry.newBuilder()
              .add(HttpConnectionManager.getDescriptor())
              .add(Router.getDescriptor())
              .add(UpstreamTlsContext.getDescriptor())
              .build();
      Files.writeString(file, JsonFormat.printer().usingTypeRegistry(types).print(bootstrap(s)));
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the bootstrap to " + s.configDir(), e);
    }
  }

  private static Node node(AgentSettings s) {
    Struct.Builder meta = Struct.newBuilder();
    s.metadata().forEach((k, v) -> meta.putFields(k, string(v)));
    s.jsonMetadata()
        .forEach(
            (k, v) -> {
              Value.Builder value = Value.newBuilder();
              try {
                JsonFormat.parser().merge(v.toString(), value);
              } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalArgumentException("ISTIO_METAJSON_" + k + ": " + e.getMessage());
              }
              meta.putFields(k, value.build());
            });
    meta.putFields("NAMESPACE", string(s.podNamespace()));
    meta.putFields("NAME", string(s.podName()));
    meta.putFields("SERVICE_ACCOUNT", string(s.serviceAccount()));
    meta.putFields("INTERCEPTION_MODE", string(s.interceptionMode()));
    meta.putFields("INSTANCE_IPS", string(s.instanceIp()));
    String workload = s.metadata().getOrDefault("WORKLOAD_NAME", s.podName());
    return Node.newBuilder()
        .setId(s.nodeId().toString())
        .setCluster(workload + "." + s.podNamespace())
        .setMetadata(meta)
        .build();
  }

  private static Value string(String v) {
    return Value.newBuilder().setStringValue(v).build();
  }

  /**
   * Pilot: a Unix socket (unix:///path) in the local mesh, host:port in a cluster. A pod with a
   * workload certificate reaches pilot over mutual TLS (pilot's 15012 refuses ADS without one),
   * unless the address is the plaintext port 15010 or a Unix socket, whose file permissions are the
   * boundary.
   */
  static Cluster xdsCluster(String discovery, boolean hasCertificate) {
    Address address;
    boolean dns = false;
    TransportSocket tls = null;
    if (discovery.startsWith("unix://")) {
      address =
          Address.newBuilder()
              .setPipe(Pipe.newBuilder().setPath(discovery.substring("unix://".length())))
              .build();
    } else {
      int colon = discovery.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException(
            "PROXY_CONFIG discoveryAddress must be host:port or unix:///path, got '"
                + discovery
                + "'");
      }
      String host = discovery.substring(0, colon).replace("[", "").replace("]", "");
      int port;
      try {
        port = Integer.parseInt(discovery.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "PROXY_CONFIG discoveryAddress has no port number: '" + discovery + "'");
      }
      dns = !IpAddresses.isLiteral(host);
      address = socket(host, port);
      if (hasCertificate && port != MeshPorts.PILOT_XDS_PLAINTEXT) {
        tls = pilotTls(host);
      }
    }
    Cluster.Builder cluster =
        staticCluster(EnvoyNames.XDS_CLUSTER, address).toBuilder()
            .setType(dns ? Cluster.DiscoveryType.STRICT_DNS : Cluster.DiscoveryType.STATIC)
            .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance());
    if (tls != null) {
      cluster.setTransportSocket(tls);
    }
    return cluster.build();
  }

  /**
   * TLS to pilot: the workload certificate (SDS {@code default}) as the client's, pilot's checked
   * against the mesh's root (SDS {@code ROOTCA}) and for the name dialled (pilot's certificate
   * carries mesh-pilot.NS.svc and the names it was told), HTTP/2 by ALPN as gRPC needs.
   */
  static TransportSocket pilotTls(String host) {
    boolean ip = IpAddresses.isLiteral(host);
    CertificateValidationContext check =
        CertificateValidationContext.newBuilder()
            .addMatchTypedSubjectAltNames(
                SubjectAltNameMatcher.newBuilder()
                    .setSanType(
                        ip
                            ? SubjectAltNameMatcher.SanType.IP_ADDRESS
                            : SubjectAltNameMatcher.SanType.DNS)
                    .setMatcher(StringMatcher.newBuilder().setExact(host)))
            .build();
    CommonTlsContext common =
        CommonTlsContext.newBuilder()
            .addAlpnProtocols("h2")
            .addTlsCertificateSdsSecretConfigs(agentSecret(EnvoyNames.SECRET_WORKLOAD))
            .setCombinedValidationContext(
                CommonTlsContext.CombinedCertificateValidationContext.newBuilder()
                    .setDefaultValidationContext(check)
                    .setValidationContextSdsSecretConfig(agentSecret(EnvoyNames.SECRET_ROOT_CA)))
            .build();
    UpstreamTlsContext upstream =
        UpstreamTlsContext.newBuilder()
            .setCommonTlsContext(common)
            .setSni(ip ? "" : host) // SNI carries host names only (RFC 6066)
            .build();
    return TransportSocket.newBuilder()
        .setName("envoy.transport_sockets.tls")
        .setTypedConfig(com.google.protobuf.Any.pack(upstream))
        .build();
  }

  /** A secret of the agent's own SDS server, through {@code sds-grpc}. */
  private static SdsSecretConfig agentSecret(String name) {
    return SdsSecretConfig.newBuilder()
        .setName(name)
        .setSdsConfig(
            ConfigSource.newBuilder()
                .setResourceApiVersion(ApiVersion.V3)
                .setApiConfigSource(
                    ApiConfigSource.newBuilder()
                        .setApiType(ApiConfigSource.ApiType.GRPC)
                        .setSetNodeOnFirstMessageOnly(true)
                        .setTransportApiVersion(ApiVersion.V3)
                        .addGrpcServices(
                            GrpcService.newBuilder()
                                .setEnvoyGrpc(
                                    GrpcService.EnvoyGrpc.newBuilder()
                                        .setClusterName(SDS_CLUSTER)))))
        .build();
  }

  /**
   * Istio's {@code sds-grpc}: the agent's SDS server on its Unix socket, HTTP/2, which the
   * listeners' and clusters' SDS configs name for {@code default} and {@code ROOTCA}.
   */
  static Cluster sdsCluster(String socket) {
    return staticCluster(
            SDS_CLUSTER, Address.newBuilder().setPipe(Pipe.newBuilder().setPath(socket)).build())
        .toBuilder()
        .setHttp2ProtocolOptions(Http2ProtocolOptions.getDefaultInstance())
        .build();
  }

  private static Cluster staticCluster(String name, Address address) {
    return Cluster.newBuilder()
        .setName(name)
        .setType(Cluster.DiscoveryType.STATIC)
        .setConnectTimeout(com.google.protobuf.Duration.newBuilder().setSeconds(1))
        .setLoadAssignment(
            ClusterLoadAssignment.newBuilder()
                .setClusterName(name)
                .addEndpoints(
                    LocalityLbEndpoints.newBuilder()
                        .addLbEndpoints(
                            LbEndpoint.newBuilder()
                                .setEndpoint(Endpoint.newBuilder().setAddress(address)))))
        .build();
  }

  private static Address socket(String host, int port) {
    return Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress(host).setPortValue(port))
        .build();
  }

  /** 15090: GET /stats/prometheus, served by the admin endpoint, as Istio's bootstrap has it. */
  private static Listener prometheusListener() {
    HttpConnectionManager hcm =
        HttpConnectionManager.newBuilder()
            .setStatPrefix("stats")
            .setRouteConfig(
                RouteConfiguration.newBuilder()
                    .setName("local_route")
                    .addVirtualHosts(
                        VirtualHost.newBuilder()
                            .setName("backend")
                            .addDomains("*")
                            .addRoutes(
                                Route.newBuilder()
                                    .setMatch(
                                        RouteMatch.newBuilder().setPrefix("/stats/prometheus"))
                                    .setRoute(
                                        RouteAction.newBuilder().setCluster(PROMETHEUS_CLUSTER)))))
            .addHttpFilters(
                HttpFilter.newBuilder()
                    .setName("envoy.filters.http.router")
                    .setTypedConfig(com.google.protobuf.Any.pack(Router.getDefaultInstance())))
            .build();
    return Listener.newBuilder()
        .setName("prometheus_stats")
        .setAddress(socket("0.0.0.0", MeshPorts.PROXY_PROMETHEUS))
        .addFilterChains(
            FilterChain.newBuilder()
                .addFilters(
                    Filter.newBuilder()
                        .setName("envoy.filters.network.http_connection_manager")
                        .setTypedConfig(com.google.protobuf.Any.pack(hcm))))
        .build();
  }
}
