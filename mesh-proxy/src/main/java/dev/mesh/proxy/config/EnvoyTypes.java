package dev.mesh.proxy.config;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.TypeRegistry;
import io.envoyproxy.envoy.admin.v3.BootstrapConfigDump;
import io.envoyproxy.envoy.admin.v3.ClustersConfigDump;
import io.envoyproxy.envoy.admin.v3.ListenersConfigDump;
import io.envoyproxy.envoy.admin.v3.RoutesConfigDump;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.access_loggers.stream.v3.StdoutAccessLog;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The Envoy types the proxy knows. An {@code Any} of any other type fails to parse, so a config
 * naming an extension we do not implement is refused with that extension's type named.
 */
public final class EnvoyTypes {
  private EnvoyTypes() {}

  /** Extensions that may appear in typed_config, and the xDS resource types. */
  private static final List<Message> SUPPORTED_TYPES =
      java.util.stream.Stream.concat(
              Stream.of(
                  io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
                      .getDefaultInstance(),
                  io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
                      .getDefaultInstance(),
                  io.envoyproxy.envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer
                      .getDefaultInstance(),
                  io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret
                      .getDefaultInstance(),
                  com.github.xds.type.v3.TypedStruct.getDefaultInstance(),
                  io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                      .getDefaultInstance(),
                  StdoutAccessLog.getDefaultInstance(),
                  FileAccessLog.getDefaultInstance(),
                  Listener.getDefaultInstance(),
                  Cluster.getDefaultInstance(),
                  RouteConfiguration.getDefaultInstance(),
                  ClusterLoadAssignment.getDefaultInstance()),
              dev.mesh.proxy.extension.Extensions.configTypes().stream())
          .toList();

  public static final List<Descriptor> SUPPORTED =
      SUPPORTED_TYPES.stream().map(Message::getDescriptorForType).toList();

  private static final Map<String, Message> BY_URL =
      SUPPORTED_TYPES.stream()
          .collect(
              Collectors.toUnmodifiableMap(
                  m -> "type.googleapis.com/" + m.getDescriptorForType().getFullName(), m -> m));

  public static final TypeRegistry REGISTRY = TypeRegistry.newBuilder().add(SUPPORTED).build();

  /** Unpacks an Any of a supported type into its generated class; empty for any other type. */
  public static Optional<Message> unpack(Any any) throws InvalidProtocolBufferException {
    Message type = BY_URL.get(any.getTypeUrl());
    return type == null
        ? Optional.empty()
        : Optional.of(type.getParserForType().parseFrom(any.getValue()));
  }

  /** Adds the admin dump types, for writing /config_dump. */
  public static final TypeRegistry DUMP_REGISTRY =
      TypeRegistry.newBuilder()
          .add(SUPPORTED)
          .add(BootstrapConfigDump.getDescriptor())
          .add(ClustersConfigDump.getDescriptor())
          .add(ListenersConfigDump.getDescriptor())
          .add(RoutesConfigDump.getDescriptor())
          .add(io.envoyproxy.envoy.admin.v3.EndpointsConfigDump.getDescriptor())
          .add(io.envoyproxy.envoy.admin.v3.SecretsConfigDump.getDescriptor())
          .add(io.envoyproxy.envoy.admin.v3.Certificates.getDescriptor())
          .build();
}
