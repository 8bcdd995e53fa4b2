package dev.mesh.proxy.accesslog;

import com.google.protobuf.Value;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.stream.StreamInfo;
import io.envoyproxy.envoy.config.core.v3.SubstitutionFormatString;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Envoy's access log format strings: text with {@code %COMMAND(args):maxlength%} operators, or JSON
 * whose values are such strings. An operator we do not implement refuses the config, naming it.
 */
public final class LogFormat {
  /** Envoy's default format. */
  public static final String ENVOY_DEFAULT =
      "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
          + "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
          + "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" "
          + "\"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

  private static final Pattern OPERATOR =
      Pattern.compile("%([A-Z_]+)(?:\\(([^)]*)\\))?(?::(\\d+))?%");
  private static final DateTimeFormatter START_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final List<Function<StreamInfo, String>> text;
  private final Map<String, List<Function<StreamInfo, String>>> json;

  private LogFormat(
      List<Function<StreamInfo, String>> text,
      Map<String, List<Function<StreamInfo, String>>> json) {
    this.text = text;
    this.json = json;
  }

  public static LogFormat of(SubstitutionFormatString format) {
    if (format.hasJsonFormat()) {
      Map<String, List<Function<StreamInfo, String>>> fields = new LinkedHashMap<>();
      for (Map.Entry<String, Value> e : format.getJsonFormat().getFieldsMap().entrySet()) {
        if (!e.getValue().hasStringValue()) {
          throw new ConfigRejectedException(
              "access log json_format: field " + e.getKey() + " must be a string");
        }
        fields.put(e.getKey(), compile(e.getValue().getStringValue(), false));
      }
      return new LogFormat(null, fields);
    }
    String text =
        format.hasTextFormatSource()
            ? dev.mesh.proxy.config.DataSources.text(
                format.getTextFormatSource(), "access log text_format_source")
            : !format.getTextFormat().isEmpty() ? format.getTextFormat() : ENVOY_DEFAULT;
    return new LogFormat(compile(text, true), null);
  }

  public static LogFormat envoyDefault() {
    return new LogFormat(compile(ENVOY_DEFAULT, true), null);
  }

  public String format(StreamInfo e) {
    if (text != null) {
      StringBuilder b = new StringBuilder();
      for (var part : text) {
        b.append(part.apply(e));
      }
      String line = b.toString();
      return line.endsWith("\n") ? line.substring(0, line.length() - 1) : line;
    }
    StringBuilder b = new StringBuilder("{");
    for (var field : json.entrySet()) {
      StringBuilder v = new StringBuilder();
      field.getValue().forEach(p -> v.append(p.apply(e)));
      if (b.length() > 1) {
        b.append(',');
      }
      b.append('"').append(escape(field.getKey())).append("\":");
      String value = v.toString();
      b.append(value.equals("-") ? "null" : "\"" + escape(value) + "\"");
    }
    return b.append('}').toString();
  }

  private static List<Function<StreamInfo, String>> compile(String format, boolean dashForEmpty) {
    List<Function<StreamInfo, String>> parts = new ArrayList<>();
    Matcher m = OPERATOR.matcher(format);
    int at = 0;
    while (m.find()) {
      String literal = format.substring(at, m.start());
      if (!literal.isEmpty()) {
        parts.add(e -> literal);
      }
      Function<StreamInfo, String> op = operator(m.group(1), m.group(2));
      Integer max = m.group(3) == null ? null : Integer.valueOf(m.group(3));
      parts.add(
          e -> {
            String v = op.apply(e);
            if (v == null || v.isEmpty()) {
              return "-";
            }
            return max != null && v.length() > max ? v.substring(0, max) : v;
          });
      at = m.end();
    }
    String rest = format.substring(at);
    if (!rest.isEmpty()) {
      parts.add(e -> rest);
    }
    return List.copyOf(parts);
  }

  private static Function<StreamInfo, String> operator(String name, String args) {
    return switch (name) {
      case "START_TIME" -> e -> START_TIME.format(Instant.ofEpochMilli(e.startMillis()));
      case "REQ" -> header(args, true);
      case "RESP" -> header(args, false);
      case "PROTOCOL" -> StreamInfo::protocol;
      case "RESPONSE_CODE" -> e -> Integer.toString(e.responseCode());
      case "RESPONSE_FLAGS" -> StreamInfo::responseFlags;
      case "RESPONSE_CODE_DETAILS" -> StreamInfo::responseCodeDetails;
      case "CONNECTION_TERMINATION_DETAILS" -> e -> null;
      case "UPSTREAM_TRANSPORT_FAILURE_REASON" -> StreamInfo::upstreamTransportFailureReason;
      case "BYTES_RECEIVED" -> e -> Long.toString(e.bytesReceived());
      case "BYTES_SENT" -> e -> Long.toString(e.bytesSent());
      case "DURATION" -> e -> Long.toString(e.durationNanos() / 1_000_000);
      case "UPSTREAM_HOST" -> StreamInfo::upstreamHost;
      case "UPSTREAM_CLUSTER", "UPSTREAM_CLUSTER_RAW" -> StreamInfo::upstreamCluster;
      case "UPSTREAM_LOCAL_ADDRESS" -> StreamInfo::upstreamLocalAddress;
      case "DOWNSTREAM_LOCAL_ADDRESS" -> e -> ConnectionInfo.format(e.connection().localAddress());
      case "DOWNSTREAM_REMOTE_ADDRESS" ->
          e -> ConnectionInfo.format(e.connection().remoteAddress());
      case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT" ->
          e -> withoutPort(ConnectionInfo.format(e.connection().remoteAddress()));
      case "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT" ->
          e -> withoutPort(ConnectionInfo.format(e.connection().localAddress()));
      case "REQUESTED_SERVER_NAME" -> e -> e.connection().requestedServerName();
      case "DOWNSTREAM_PEER_URI_SAN" -> peer(dev.mesh.proxy.tls.PeerCertificate::uriSan);
      case "DOWNSTREAM_PEER_SERIAL" -> peer(dev.mesh.proxy.tls.PeerCertificate::serial);
      case "DOWNSTREAM_PEER_SUBJECT" -> peer(dev.mesh.proxy.tls.PeerCertificate::subject);
      case "ROUTE_NAME" -> StreamInfo::routeName;
      case "HOSTNAME" -> e -> Hostname.NAME;
      default ->
          throw new ConfigRejectedException(
              "access log format: operator %" + name + "% is not supported by mesh-proxy");
    };
  }

  /** A field of the peer's certificate; none (printed "-") without TLS or when it is empty. */
  private static Function<StreamInfo, String> peer(
      Function<dev.mesh.proxy.tls.PeerCertificate, String> field) {
    return e -> {
      var cert = e.connection().peerCertificate();
      String v = cert == null ? null : field.apply(cert);
      return v == null || v.isEmpty() ? null : v;
    };
  }

  /** %REQ(X?Y)%: header X, else header Y; :path and :authority as in HTTP/2. */
  private static Function<StreamInfo, String> header(String args, boolean request) {
    if (args == null || args.isEmpty()) {
      throw new ConfigRejectedException("access log format: %REQ% and %RESP% need a header name");
    }
    String[] names = args.split("\\?", 2);
    return e -> {
      String v = header(e, names[0], request);
      return (v == null || v.isEmpty()) && names.length > 1 ? header(e, names[1], request) : v;
    };
  }

  /** A header of the request or response; the HTTP/2 pseudo-headers as Envoy names them. */
  private static String header(StreamInfo e, String name, boolean request) {
    String n = name.toLowerCase(java.util.Locale.ROOT);
    if (request) {
      var r = e.requestHeaders();
      if (r == null) {
        return null;
      }
      return switch (n) {
        case ":method" -> r.method().name();
        case ":path" -> r.uri();
        case ":authority" -> r.headers().get("host");
        default -> r.headers().get(n);
      };
    }
    if (n.equals(":status")) {
      return e.responseCode() == 0 ? null : Integer.toString(e.responseCode());
    }
    return e.responseHeaders() == null ? null : e.responseHeaders().headers().get(n);
  }

  private static String withoutPort(String address) {
    if (address == null) {
      return null;
    }
    int colon = address.lastIndexOf(':');
    return colon > 0 ? address.substring(0, colon) : address;
  }

  private static String escape(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }

  /** This host's name, for %HOSTNAME%. */
  private static final class Hostname {
    static final String NAME = name();

    private static String name() {
      try {
        return java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.net.UnknownHostException e) {
        return "-";
      }
    }
  }
}
