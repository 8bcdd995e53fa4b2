package dev.mesh.proxy.xds;

import dev.mesh.proxy.cluster.ClusterManager;
import dev.mesh.proxy.cluster.Endpoint;
import dev.mesh.proxy.cluster.UpstreamCluster;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.ProtoDurations;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.netty.channel.Channel;
import io.netty.channel.epoll.Epoll;
import java.time.Duration;

/** What a bootstrap's dynamic_resources ask of the xDS client, checked as Envoy checks them. */
public final class XdsBootstrap {
  private XdsBootstrap() {}

  /**
   * The management server of {@code ads_config}: the first endpoint of the static cluster its
   * envoy_grpc names, over TCP or a Unix socket (Address.pipe), with the cluster's transport socket
   * (TLS from files or SDS, as for any upstream).
   */
  public static AdsClient.Target target(
      Bootstrap bootstrap, ClusterManager clusters, Class<? extends Channel> tcpChannel) {
    var dynamic = bootstrap.getDynamicResources();
    requireAds(dynamic.hasCdsConfig(), dynamic.getCdsConfig(), "cds_config");
    requireAds(dynamic.hasLdsConfig(), dynamic.getLdsConfig(), "lds_config");
    if (!dynamic.hasAdsConfig() || dynamic.getAdsConfig().getGrpcServicesCount() != 1) {
      throw new ConfigRejectedException(
          "dynamic_resources.ads_config needs exactly one grpc_services entry");
    }
    var grpc = dynamic.getAdsConfig().getGrpcServices(0);
    if (!grpc.hasEnvoyGrpc()) {
      throw new ConfigRejectedException(
          "dynamic_resources.ads_config.grpc_services[0] needs envoy_grpc");
    }
    boolean delta =
        dynamic.getAdsConfig().getApiType()
            == io.envoyproxy.envoy.config.core.v3.ApiConfigSource.ApiType.DELTA_GRPC;
    return grpcTarget(
        grpc.getEnvoyGrpc().getClusterName(),
        clusters,
        tcpChannel,
        delta,
        "dynamic_resources.ads_config");
  }

  /**
   * The gRPC server behind a static cluster that an envoy_grpc names (ADS, or an SDS server such as
   * Istio's {@code sds-grpc}): its first endpoint, over TCP or a Unix socket (Address.pipe).
   */
  public static AdsClient.Target grpcTarget(
      String name,
      ClusterManager clusters,
      Class<? extends Channel> tcpChannel,
      boolean delta,
      String where) {
    UpstreamCluster cluster = clusters.inForceOrWarming(name);
    if (cluster == null) {
      throw new ConfigRejectedException(
          where + ": envoy_grpc names cluster '" + name + "', which is not a static cluster");
    }
    String authority = name; // Envoy's default :authority for envoy_grpc is the cluster name
    if (!cluster.pipes().isEmpty()) {
      String path = cluster.pipes().get(0);
      return Epoll.isAvailable()
          ? new AdsClient.Target(
              new io.netty.channel.unix.DomainSocketAddress(path),
              io.netty.channel.epoll.EpollDomainSocketChannel.class,
              authority,
              delta,
              cluster.defaultTls())
          : new AdsClient.Target(
              java.net.UnixDomainSocketAddress.of(path),
              io.netty.channel.socket.nio.NioDomainSocketChannel.class,
              authority,
              delta,
              cluster.defaultTls());
    }
    if (cluster.endpoints().isEmpty()) {
      throw new ConfigRejectedException(where + ": cluster '" + name + "' has no endpoint");
    }
    if (!cluster.http2()) {
      throw new ConfigRejectedException(
          "cluster '" + name + "' carries gRPC: it needs HTTP/2 (http2_protocol_options)");
    }
    Endpoint e = cluster.endpoints().get(0);
    java.net.InetSocketAddress address = e.address();
    return new AdsClient.Target(address, tcpChannel, authority, delta, cluster.tlsFor(address));
  }

  /** Envoy's initial_fetch_timeout: how long start-up waits for the first config (15 s). */
  public static Duration initialFetchTimeout(Bootstrap bootstrap) {
    var source = bootstrap.getDynamicResources().getLdsConfig();
    return ProtoDurations.orDefault(
        source.hasInitialFetchTimeout(), source.getInitialFetchTimeout(), Duration.ofSeconds(15));
  }

  private static void requireAds(boolean set, ConfigSource source, String field) {
    if (set && !source.hasAds()) {
      throw new ConfigRejectedException(
          "dynamic_resources." + field + " must be ads: mesh-proxy takes xDS over one ADS stream");
    }
  }
}
