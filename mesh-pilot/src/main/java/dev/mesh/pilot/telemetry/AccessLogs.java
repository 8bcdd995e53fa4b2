package dev.mesh.pilot.telemetry;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.mesh.config.mesh.MeshConfig;
import io.envoyproxy.envoy.config.accesslog.v3.AccessLog;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.SubstitutionFormatString;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * MeshConfig's access log ({@code accessLogFile}, {@code accessLogFormat}, {@code
 * accessLogEncoding}) on every HTTP connection manager of a sidecar's listeners, as istiod writes
 * it: a file logger at that path, in Istio's default format unless the mesh gives one. None when
 * {@code accessLogFile} is empty (Istio's default profile); Istio's demo profile sets /dev/stdout,
 * which {@code kubectl logs POD -c istio-proxy} then shows.
 */
public record AccessLogs(String file, String format, boolean json) {
  public static final AccessLogs NONE = new AccessLogs("", "", false);

  /** Istio's EnvoyTextLogFormat (Istio 1.9 onwards). */
  public static final String ISTIO_TEXT_FORMAT =
      "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\""
          + " %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%"
          + " %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\""
          + " %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"
          + " \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\""
          + " \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW%"
          + " %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%"
          + " %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

  /** Istio's default JSON keys, for accessLogEncoding JSON without a format. */
  private static final Map<String, String> ISTIO_JSON_FORMAT =
      new java.util.LinkedHashMap<>(
          Map.ofEntries(
              Map.entry("start_time", "%START_TIME%"),
              Map.entry("method", "%REQ(:METHOD)%"),
              Map.entry("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
              Map.entry("protocol", "%PROTOCOL%"),
              Map.entry("response_code", "%RESPONSE_CODE%"),
              Map.entry("response_flags", "%RESPONSE_FLAGS%"),
              Map.entry("response_code_details", "%RESPONSE_CODE_DETAILS%"),
              Map.entry("upstream_transport_failure_reason", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"),
              Map.entry("bytes_received", "%BYTES_RECEIVED%"),
              Map.entry("bytes_sent", "%BYTES_SENT%"),
              Map.entry("duration", "%DURATION%"),
              Map.entry("upstream_service_time", "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%"),
              Map.entry("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
              Map.entry("user_agent", "%REQ(USER-AGENT)%"),
              Map.entry("request_id", "%REQ(X-REQUEST-ID)%"),
              Map.entry("authority", "%REQ(:AUTHORITY)%"),
              Map.entry("upstream_host", "%UPSTREAM_HOST%"),
              Map.entry("upstream_cluster", "%UPSTREAM_CLUSTER_RAW%"),
              Map.entry("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
              Map.entry("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
              Map.entry("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
              Map.entry("requested_server_name", "%REQUESTED_SERVER_NAME%"),
              Map.entry("route_name", "%ROUTE_NAME%")));

  public static AccessLogs of(MeshConfig mesh) {
    return new AccessLogs(
        mesh.accessLogFile == null ? "" : mesh.accessLogFile,
        mesh.accessLogFormat == null ? "" : mesh.accessLogFormat,
        mesh.accessLogEncoding == MeshConfig.AccessLogEncoding.JSON);
  }

  public boolean enabled() {
    return !file.isEmpty();
  }

  /** The listeners with this access log on each HTTP connection manager. */
  public List<Listener> apply(List<Listener> listeners) {
    if (!enabled()) {
      return listeners;
    }
    AccessLog log = accessLog();
    List<Listener> out = new ArrayList<>(listeners.size());
    for (Listener l : listeners) {
      Listener.Builder b = l.toBuilder();
      for (FilterChain.Builder chain : b.getFilterChainsBuilderList()) {
        for (Filter.Builder f : chain.getFiltersBuilderList()) {
          if (f.getTypedConfig().is(HttpConnectionManager.class)) {
            f.setTypedConfig(
                Any.pack(hcm(f.getTypedConfig()).toBuilder().addAccessLog(log).build()));
          }
        }
      }
      if (b.hasDefaultFilterChain()) {
        for (Filter.Builder f : b.getDefaultFilterChainBuilder().getFiltersBuilderList()) {
          if (f.getTypedConfig().is(HttpConnectionManager.class)) {
            f.setTypedConfig(
                Any.pack(hcm(f.getTypedConfig()).toBuilder().addAccessLog(log).build()));
          }
        }
      }
      out.add(b.build());
    }
    return out;
  }

  private static HttpConnectionManager hcm(Any any) {
    try {
      return any.unpack(HttpConnectionManager.class);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("pilot's own HttpConnectionManager does not unpack", e);
    }
  }

  private AccessLog accessLog() {
    SubstitutionFormatString.Builder format = SubstitutionFormatString.newBuilder();
    if (json) {
      format.setJsonFormat(jsonFormat());
    } else {
      String text = this.format.isEmpty() ? ISTIO_TEXT_FORMAT : this.format;
      // Istio ends a user's format with a newline when it has none, so that lines stay lines.
      format.setTextFormatSource(
          DataSource.newBuilder().setInlineString(text.endsWith("\n") ? text : text + "\n"));
    }
    return AccessLog.newBuilder()
        .setName("envoy.access_loggers.file")
        .setTypedConfig(
            Any.pack(FileAccessLog.newBuilder().setPath(file).setLogFormat(format).build()))
        .build();
  }

  /** The user's JSON object of strings, else Istio's default keys (as Istio falls back). */
  private Struct jsonFormat() {
    Map<String, String> keys = ISTIO_JSON_FORMAT;
    if (!format.isEmpty()) {
      try {
        var node = tools.jackson.databind.json.JsonMapper.builder().build().readTree(format);
        if (node.isObject()) {
          Map<String, String> user = new java.util.LinkedHashMap<>();
          for (var e : node.properties()) {
            user.put(e.getKey(), e.getValue().asString());
          }
          keys = user;
        }
      } catch (RuntimeException e) {
        // not JSON: Istio's default keys, as istiod does
      }
    }
    Struct.Builder s = Struct.newBuilder();
    keys.forEach((k, v) -> s.putFields(k, Value.newBuilder().setStringValue(v).build()));
    return s.build();
  }
}
