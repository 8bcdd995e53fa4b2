package dev.mesh.proxy.accesslog;

import io.envoyproxy.envoy.config.accesslog.v3.AccessLog.ConfigTypeCase;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * Access logs in Envoy's default format, to stdout or a file:
 *
 * <pre>
 * [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 * %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
 * "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"
 * "%UPSTREAM_HOST%"
 * </pre>
 */
public final class AccessLog {
  private static final DateTimeFormatter START_TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final List<PrintStream> sinks;

  private AccessLog(List<PrintStream> sinks) {
    this.sinks = sinks;
  }

  public static AccessLog of(List<io.envoyproxy.envoy.config.accesslog.v3.AccessLog> configs) {
    return new AccessLog(configs.stream().map(AccessLog::sink).toList());
  }

  public boolean enabled() {
    return !sinks.isEmpty();
  }

  private static PrintStream sink(io.envoyproxy.envoy.config.accesslog.v3.AccessLog config) {
    if (config.getConfigTypeCase() != ConfigTypeCase.TYPED_CONFIG) {
      return System.out;
    }
    try {
      var any = config.getTypedConfig();
      if (any.is(FileAccessLog.class)) {
        String path = any.unpack(FileAccessLog.class).getPath();
        if (path.equals("/dev/stdout")) {
          return System.out;
        }
        OutputStream out = new FileOutputStream(path, true);
        return new PrintStream(out, true, StandardCharsets.UTF_8);
      }
      return System.out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One request's entry; {@code -} for what is absent, as Envoy writes it. */
  public record Entry(
      long startMillis,
      String method,
      String path,
      String protocol,
      int status,
      String flags,
      long bytesReceived,
      long bytesSent,
      long durationMillis,
      String upstreamServiceTime,
      String forwardedFor,
      String userAgent,
      String requestId,
      String authority,
      String upstreamHost) {}

  public void log(Entry e) {
    if (sinks.isEmpty()) {
      return;
    }
    String line =
        "["
            + START_TIME.format(Instant.ofEpochMilli(e.startMillis))
            + "] \""
            + dash(e.method)
            + " "
            + dash(e.path)
            + " "
            + dash(e.protocol)
            + "\" "
            + e.status
            + " "
            + dash(e.flags)
            + " "
            + e.bytesReceived
            + " "
            + e.bytesSent
            + " "
            + e.durationMillis
            + " "
            + dash(e.upstreamServiceTime)
            + " \""
            + dash(e.forwardedFor)
            + "\" \""
            + dash(e.userAgent)
            + "\" \""
            + dash(e.requestId)
            + "\" \""
            + dash(e.authority)
            + "\" \""
            + dash(e.upstreamHost)
            + "\"";
    for (PrintStream s : sinks) {
      s.println(line);
    }
  }

  private static String dash(String v) {
    return v == null || v.isEmpty() ? "-" : v;
  }
}
