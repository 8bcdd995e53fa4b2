package dev.mesh.pilot.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.config.mesh.MeshConfig;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.listener.v3.FilterChain;
import io.envoyproxy.envoy.config.listener.v3.Listener;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AccessLogsTest {

  static Listener listener() {
    return Listener.newBuilder()
        .setName("0.0.0.0_80")
        .addFilterChains(
            FilterChain.newBuilder()
                .addFilters(
                    Filter.newBuilder()
                        .setName("envoy.filters.network.http_connection_manager")
                        .setTypedConfig(
                            com.google.protobuf.Any.pack(
                                HttpConnectionManager.newBuilder().setStatPrefix("x").build()))))
        .addFilterChains(
            FilterChain.newBuilder()
                .addFilters(
                    Filter.newBuilder()
                        .setName("envoy.filters.network.tcp_proxy")
                        .setTypedConfig(
                            com.google.protobuf.Any.pack(
                                TcpProxy.newBuilder().setStatPrefix("t").setCluster("c").build()))))
        .build();
  }

  static List<FileAccessLog> logs(Listener l) throws Exception {
    List<FileAccessLog> out = new ArrayList<>();
    for (FilterChain c : l.getFilterChainsList()) {
      for (Filter f : c.getFiltersList()) {
        if (f.getTypedConfig().is(HttpConnectionManager.class)) {
          for (var log :
              f.getTypedConfig().unpack(HttpConnectionManager.class).getAccessLogList()) {
            assertThat(log.getName()).isEqualTo("envoy.access_loggers.file");
            out.add(log.getTypedConfig().unpack(FileAccessLog.class));
          }
        }
      }
    }
    return out;
  }

  @Test
  void noAccessLogFileMeansNoLogAsInIstiosDefaultProfile() throws Exception {
    Listener l = listener();
    assertThat(AccessLogs.of(MeshConfig.defaults()).apply(List.of(l))).containsExactly(l);
  }

  @Test
  void accessLogFileAloneGivesIstiosDefaultTextFormatThatTheProxyAccepts() throws Exception {
    MeshConfig mesh = MeshConfig.defaults();
    mesh.accessLogFile = "/dev/stdout";
    Listener out = AccessLogs.of(mesh).apply(List.of(listener())).get(0);
    List<FileAccessLog> logs = logs(out);
    assertThat(logs).hasSize(1);
    assertThat(logs.get(0).getPath()).isEqualTo("/dev/stdout");
    assertThat(logs.get(0).getLogFormat().getTextFormatSource().getInlineString())
        .isEqualTo(AccessLogs.ISTIO_TEXT_FORMAT)
        .startsWith("[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%")
        .endsWith("%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n");
    // What a sidecar does with it: every field is one mesh-proxy supports, every operator known.
    dev.mesh.proxy.config.SupportedFields.check(out);
    dev.mesh.proxy.accesslog.AccessLog.of(
        out.getFilterChains(0)
            .getFilters(0)
            .getTypedConfig()
            .unpack(HttpConnectionManager.class)
            .getAccessLogList());
  }

  @Test
  void aUsersTextFormatGetsItsNewlineAndJsonEncodingFallsBackToIstiosKeys() throws Exception {
    MeshConfig mesh = MeshConfig.defaults();
    mesh.accessLogFile = "/dev/stdout";
    mesh.accessLogFormat = "%DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_PEER_SERIAL%";
    assertThat(
            logs(AccessLogs.of(mesh).apply(List.of(listener())).get(0))
                .get(0)
                .getLogFormat()
                .getTextFormatSource()
                .getInlineString())
        .isEqualTo("%DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_PEER_SERIAL%\n");

    mesh.accessLogEncoding = MeshConfig.AccessLogEncoding.JSON;
    mesh.accessLogFormat = "{\"peer\": \"%DOWNSTREAM_PEER_URI_SAN%\"}";
    var json = logs(AccessLogs.of(mesh).apply(List.of(listener())).get(0)).get(0).getLogFormat();
    assertThat(json.getJsonFormat().getFieldsMap()).containsOnlyKeys("peer");
    mesh.accessLogFormat = "not json";
    json = logs(AccessLogs.of(mesh).apply(List.of(listener())).get(0)).get(0).getLogFormat();
    assertThat(json.getJsonFormat().getFieldsMap()).containsKeys("start_time", "response_code");
  }
}
