package dev.mesh.pilot.debug;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.mesh.pilot.xds.ProxyResources;
import dev.mesh.pilot.xds.SyncStatus;
import dev.mesh.pilot.xds.XdsServer;
import java.util.List;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** Istio's debug endpoints on 15014: /debug/syncz, /debug/config_dump, /metrics. */
@RestController
public class DebugController {
  private static final JsonFormat.TypeRegistry TYPES =
      JsonFormat.TypeRegistry.newBuilder()
          .add(io.envoyproxy.envoy.config.cluster.v3.Cluster.getDescriptor())
          .add(io.envoyproxy.envoy.config.endpoint.v3.ClusterLoadAssignment.getDescriptor())
          .add(io.envoyproxy.envoy.config.listener.v3.Listener.getDescriptor())
          .add(io.envoyproxy.envoy.config.route.v3.RouteConfiguration.getDescriptor())
          .add(
              io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3
                  .HttpConnectionManager.getDescriptor())
          .add(io.envoyproxy.envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy.getDescriptor())
          .add(io.envoyproxy.envoy.extensions.filters.http.router.v3.Router.getDescriptor())
          .add(io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault.getDescriptor())
          .add(
              io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst
                  .getDescriptor())
          .add(io.envoyproxy.envoy.extensions.upstreams.http.v3.HttpProtocolOptions.getDescriptor())
          .add(com.github.xds.type.v3.TypedStruct.getDescriptor())
          .build();
  private static final JsonFormat.Printer JSON =
      JsonFormat.printer().usingTypeRegistry(TYPES).preservingProtoFieldNames();

  private final XdsServer xds;

  public DebugController(XdsServer xds) {
    this.xds = xds;
  }

  @GetMapping(value = "/debug/syncz", produces = MediaType.APPLICATION_JSON_VALUE)
  public String syncz() {
    StringBuilder b = new StringBuilder("[");
    boolean first = true;
    for (var proxy : xds.sync().all().entrySet()) {
      b.append(first ? "\n" : ",\n");
      first = false;
      b.append("  {\"proxy\": ").append(quote(proxy.getKey())).append(", \"types\": {");
      boolean firstType = true;
      for (var t : proxy.getValue().entrySet()) {
        SyncStatus.TypeSync s = t.getValue();
        b.append(firstType ? "" : ", ");
        firstType = false;
        b.append(quote(t.getKey()))
            .append(": {\"state\": ")
            .append(quote(s.state()))
            .append(", \"sent_version\": ")
            .append(quote(s.sentVersion))
            .append(", \"sent_nonce\": ")
            .append(quote(s.sentNonce))
            .append(", \"acked_version\": ")
            .append(quote(s.ackedVersion));
        if (s.nackError != null) {
          b.append(", \"nacked_version\": ")
              .append(quote(s.nackedVersion))
              .append(", \"nack_error\": ")
              .append(quote(s.nackError));
        }
        b.append("}");
      }
      b.append("}}");
    }
    return b.append(first ? "]\n" : "\n]\n").toString();
  }

  @GetMapping(value = "/debug/config_dump", produces = MediaType.APPLICATION_JSON_VALUE)
  public ResponseEntity<String> configDump(@RequestParam("proxyID") String proxyId) {
    ProxyResources r = xds.configOf(proxyId);
    if (r == null) {
      return ResponseEntity.status(HttpStatus.NOT_FOUND)
          .body("{\"error\": " + quote("no connected proxy " + proxyId) + "}\n");
    }
    StringBuilder b = new StringBuilder("{\n");
    section(b, "clusters", r.clusters());
    b.append(",\n");
    section(b, "endpoints", r.endpoints());
    b.append(",\n");
    section(b, "listeners", r.listeners());
    b.append(",\n");
    section(b, "routes", r.routes());
    return ResponseEntity.ok(b.append("\n}\n").toString());
  }

  @GetMapping(value = "/metrics", produces = "text/plain; version=0.0.4")
  public String metrics() {
    return xds.metrics().prometheus();
  }

  private static void section(StringBuilder b, String name, List<? extends Message> items) {
    b.append("  ").append(quote(name)).append(": [");
    for (int i = 0; i < items.size(); i++) {
      try {
        b.append(i == 0 ? "\n" : ",\n").append(JSON.print(Any.pack(items.get(i))));
      } catch (InvalidProtocolBufferException e) {
        b.append(i == 0 ? "\n" : ",\n")
            .append("{\"error\": ")
            .append(quote(e.getMessage()))
            .append('}');
      }
    }
    b.append("]");
  }

  private static String quote(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
