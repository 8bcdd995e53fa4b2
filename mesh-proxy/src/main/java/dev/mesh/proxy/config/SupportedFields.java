package dev.mesh.proxy.config;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * The explicit list of Envoy fields the proxy implements. A config that sets any other field is
 * refused with that field's path, because running it would silently mean something else than it
 * means to Envoy. Fields that change no traffic behaviour (stats, runtime, overload, tracing) are
 * accepted with one warning each.
 */
public final class SupportedFields {
  private SupportedFields() {}

  private static final Logger LOG = Logger.getLogger(SupportedFields.class.getName());

  // The core's fields; each extension (filter) adds those of its own config.
  private static final Set<String> SUPPORTED =
      fields(
          dev.mesh.proxy.extension.Extensions.supportedFields()
              + """
          envoy.config.bootstrap.v3.Bootstrap: node static_resources admin dynamic_resources
          envoy.config.bootstrap.v3.Bootstrap.DynamicResources: lds_config cds_config ads_config
          envoy.config.core.v3.ApiConfigSource: api_type transport_api_version grpc_services \
            set_node_on_first_message_only
          envoy.config.core.v3.GrpcService: envoy_grpc
          envoy.config.core.v3.GrpcService.EnvoyGrpc: cluster_name
          envoy.config.core.v3.ConfigSource: ads resource_api_version initial_fetch_timeout
          envoy.config.core.v3.Pipe: path
          envoy.config.bootstrap.v3.Bootstrap.StaticResources: listeners clusters secrets
          envoy.config.core.v3.ConfigSource: api_config_source
          envoy.config.bootstrap.v3.Admin: address
          envoy.config.core.v3.Node: id cluster metadata
          envoy.config.core.v3.Address: socket_address pipe
          envoy.config.core.v3.SocketAddress: address port_value protocol
          envoy.config.listener.v3.Listener: name address filter_chains traffic_direction stat_prefix \
            use_original_dst bind_to_port listener_filters transparent default_filter_chain \
            listener_filters_timeout continue_on_listener_filters_timeout
          envoy.config.listener.v3.ListenerFilter: name typed_config filter_disabled
          envoy.config.listener.v3.ListenerFilterChainMatchPredicate: or_match and_match \
            not_match any_match destination_port_range
          envoy.config.listener.v3.ListenerFilterChainMatchPredicate.MatchSet: rules
          envoy.type.v3.Int32Range: start end
          envoy.config.listener.v3.FilterChain: name filters filter_chain_match transport_socket
          envoy.config.core.v3.TransportSocket: name typed_config
          envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext: common_tls_context \
            require_client_certificate
          envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext: common_tls_context sni
          envoy.extensions.transport_sockets.tls.v3.CommonTlsContext: tls_certificates \
            validation_context alpn_protocols tls_params tls_certificate_sds_secret_configs \
            validation_context_sds_secret_config combined_validation_context
          envoy.extensions.transport_sockets.tls.v3.CommonTlsContext.CombinedCertificateValidationContext: \
            default_validation_context validation_context_sds_secret_config
          envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig: name sds_config
          envoy.extensions.transport_sockets.tls.v3.Secret: name tls_certificate validation_context
          envoy.extensions.transport_sockets.tls.v3.TlsCertificate: certificate_chain private_key
          envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext: trusted_ca \
            match_typed_subject_alt_names match_subject_alt_names
          envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher: san_type matcher
          envoy.config.cluster.v3.Cluster.TransportSocketMatch: name match transport_socket
          envoy.config.endpoint.v3.LbEndpoint: metadata
          envoy.config.core.v3.Metadata: filter_metadata
          envoy.config.core.v3.Metadata.FilterMetadataEntry: key value
          envoy.extensions.transport_sockets.tls.v3.TlsParameters: tls_minimum_protocol_version \
            tls_maximum_protocol_version cipher_suites
          envoy.config.listener.v3.FilterChainMatch: destination_port prefix_ranges server_names \
            transport_protocol application_protocols
          envoy.config.core.v3.CidrRange: address_prefix prefix_len
          envoy.config.listener.v3.Filter: name typed_config
          envoy.config.accesslog.v3.AccessLog: name typed_config
          xds.type.v3.TypedStruct: type_url value
          envoy.extensions.access_loggers.file.v3.FileAccessLog: path log_format
          envoy.extensions.access_loggers.stream.v3.StdoutAccessLog: log_format
          envoy.config.core.v3.SubstitutionFormatString: text_format text_format_source \
            json_format
          envoy.config.route.v3.RouteConfiguration: name virtual_hosts request_headers_to_add \
            request_headers_to_remove response_headers_to_add response_headers_to_remove \
            validate_clusters ignore_port_in_host_matching
          envoy.config.route.v3.VirtualHost: name domains routes request_headers_to_add \
            request_headers_to_remove response_headers_to_add response_headers_to_remove \
            typed_per_filter_config
          envoy.config.route.v3.VirtualHost.TypedPerFilterConfigEntry: key value
          envoy.config.route.v3.Route: name match route redirect direct_response metadata \
            request_headers_to_add request_headers_to_remove response_headers_to_add \
            response_headers_to_remove typed_per_filter_config
          envoy.config.route.v3.Route.TypedPerFilterConfigEntry: key value
          envoy.type.v3.FractionalPercent: numerator denominator
          envoy.config.route.v3.RouteMatch: prefix path safe_regex path_separated_prefix \
            case_sensitive headers query_parameters
          envoy.type.matcher.v3.RegexMatcher: google_re2 regex
          envoy.type.matcher.v3.RegexMatcher.GoogleRE2: max_program_size
          envoy.config.route.v3.HeaderMatcher: name exact_match prefix_match suffix_match \
            contains_match safe_regex_match present_match string_match invert_match
          envoy.type.matcher.v3.StringMatcher: exact prefix suffix contains safe_regex ignore_case
          envoy.config.route.v3.QueryParameterMatcher: name string_match present_match
          envoy.config.route.v3.RouteAction: cluster weighted_clusters timeout prefix_rewrite \
            host_rewrite_literal retry_policy request_mirror_policies
          envoy.config.route.v3.RouteAction.RequestMirrorPolicy: cluster runtime_fraction
          envoy.config.core.v3.RuntimeFractionalPercent: default_value runtime_key
          envoy.config.route.v3.WeightedCluster: clusters total_weight
          envoy.config.route.v3.WeightedCluster.ClusterWeight: name weight \
            request_headers_to_add request_headers_to_remove response_headers_to_add \
            response_headers_to_remove
          envoy.config.route.v3.RetryPolicy: retry_on num_retries per_try_timeout \
            retriable_status_codes retry_back_off
          envoy.config.route.v3.RetryPolicy.RetryBackOff: base_interval max_interval
          envoy.config.core.v3.HeaderValueOption: header append append_action keep_empty_value
          envoy.config.core.v3.HeaderValue: key value
          envoy.config.route.v3.DirectResponseAction: status body
          envoy.config.core.v3.DataSource: filename inline_string inline_bytes
          envoy.config.route.v3.RedirectAction: host_redirect port_redirect path_redirect \
            prefix_rewrite scheme_redirect https_redirect response_code strip_query
          envoy.config.cluster.v3.Cluster: name type connect_timeout lb_policy load_assignment \
            dns_refresh_rate dns_lookup_family circuit_breakers outlier_detection \
            upstream_bind_config transport_socket typed_extension_protocol_options \
            http2_protocol_options health_checks eds_cluster_config transport_socket_matches
          envoy.config.cluster.v3.Cluster.EdsClusterConfig: eds_config service_name
          envoy.config.core.v3.HealthCheck: timeout interval unhealthy_threshold healthy_threshold \
            http_health_check
          envoy.config.core.v3.HealthCheck.HttpHealthCheck: host path expected_statuses
          envoy.type.v3.Int64Range: start end
          envoy.config.cluster.v3.Cluster.TypedExtensionProtocolOptionsEntry: key value
          envoy.extensions.upstreams.http.v3.HttpProtocolOptions: explicit_http_config
          envoy.extensions.upstreams.http.v3.HttpProtocolOptions.ExplicitHttpConfig: \
            http_protocol_options http2_protocol_options
          envoy.config.core.v3.BindConfig: source_address
          envoy.config.cluster.v3.CircuitBreakers: thresholds
          envoy.config.cluster.v3.CircuitBreakers.Thresholds: priority max_connections \
            max_pending_requests max_requests max_retries
          envoy.config.cluster.v3.OutlierDetection: consecutive_5xx consecutive_gateway_failure \
            enforcing_consecutive_5xx enforcing_consecutive_gateway_failure interval \
            base_ejection_time max_ejection_percent
          envoy.config.endpoint.v3.ClusterLoadAssignment: cluster_name endpoints
          envoy.config.endpoint.v3.LocalityLbEndpoints: lb_endpoints locality priority \
            load_balancing_weight
          envoy.config.core.v3.Locality: region zone sub_zone
          envoy.config.endpoint.v3.LbEndpoint: endpoint health_status load_balancing_weight
          envoy.config.endpoint.v3.Endpoint: address hostname
          """);

  /** Accepted with a warning: they tune observability or resources, never where traffic goes. */
  private static final Set<String> NO_TRAFFIC_BEHAVIOUR =
      fields(
          """
          envoy.config.bootstrap.v3.Bootstrap: stats_config layered_runtime overload_manager \
            tracing stats_sinks stats_flush_interval watchdog watchdogs
          envoy.config.bootstrap.v3.Admin: access_log_path access_log
          """);

  /** Enum values we implement, for enum fields where we implement only some. */
  private static final Map<String, Set<String>> SUPPORTED_VALUES =
      Map.of(
          "envoy.config.cluster.v3.Cluster.type",
          Set.of("STATIC", "STRICT_DNS", "LOGICAL_DNS", "ORIGINAL_DST", "EDS"),
          "envoy.config.core.v3.ApiConfigSource.api_type",
          Set.of("GRPC", "DELTA_GRPC"),
          "envoy.config.core.v3.ApiConfigSource.transport_api_version",
          Set.of("V3"),
          "envoy.config.core.v3.ConfigSource.resource_api_version",
          Set.of("V3"),
          "envoy.config.cluster.v3.Cluster.lb_policy",
          Set.of("ROUND_ROBIN", "RANDOM", "LEAST_REQUEST", "CLUSTER_PROVIDED"),
          "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
              + ".codec_type",
          Set.of("AUTO", "HTTP1", "HTTP2"),
          "envoy.config.core.v3.SocketAddress.protocol",
          Set.of("TCP"));

  private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

  /** Throws ConfigRejectedException naming the first unsupported field set in the message. */
  public static void check(Message message) {
    check(message, "");
  }

  private static void check(Message message, String path) {
    if (message instanceof Any any) {
      check(unpack(any, path), path);
      return;
    }
    Descriptor type = message.getDescriptorForType();
    if (type.getFullName().startsWith("google.protobuf.")) {
      return; // Durations, wrappers and Structs are values, not features.
    }
    for (Map.Entry<FieldDescriptor, Object> set : message.getAllFields().entrySet()) {
      FieldDescriptor field = set.getKey();
      String key = field.getFullName();
      String at = path.isEmpty() ? field.getName() : path + "." + field.getName();
      if (NO_TRAFFIC_BEHAVIOUR.contains(key)) {
        if (WARNED.add(key)) {
          LOG.warning("config field " + at + " is accepted but has no effect in mesh-proxy");
        }
        continue;
      }
      if (!SUPPORTED.contains(key)) {
        throw new ConfigRejectedException(
            "unsupported field " + at + " (" + key + ") is set: mesh-proxy does not implement it");
      }
      if (field.isRepeated()) {
        List<?> items = (List<?>) set.getValue();
        for (int i = 0; i < items.size(); i++) {
          value(field, items.get(i), at + "[" + i + "]");
        }
      } else {
        value(field, set.getValue(), at);
      }
    }
  }

  private static void value(FieldDescriptor field, Object value, String at) {
    if (value instanceof Message m) {
      check(m, at);
    } else if (value instanceof EnumValueDescriptor e) {
      Set<String> allowed = SUPPORTED_VALUES.get(field.getFullName());
      if (allowed != null && !allowed.contains(e.getName())) {
        throw new ConfigRejectedException(
            at
                + ": value "
                + e.getName()
                + " is not supported by mesh-proxy (supported: "
                + allowed.stream().sorted().collect(Collectors.joining(", "))
                + ")");
      }
    }
  }

  private static Message unpack(Any any, String at) {
    try {
      return EnvoyTypes.unpack(any)
          .orElseThrow(
              () ->
                  new ConfigRejectedException(
                      at + ": extension " + any.getTypeUrl() + " is not supported by mesh-proxy"));
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigRejectedException(at + ": cannot decode " + any.getTypeUrl(), e);
    }
  }

  private static Set<String> fields(String table) {
    return table
        .replace("\\\n", " ")
        .lines()
        .filter(l -> !l.isBlank())
        .flatMap(
            line -> {
              int colon = line.indexOf(':');
              String message = line.substring(0, colon).trim();
              return java.util.Arrays.stream(line.substring(colon + 1).trim().split("\\s+"))
                  .map(f -> message + "." + f);
            })
        .collect(Collectors.toUnmodifiableSet());
  }
}
