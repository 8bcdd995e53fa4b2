package dev.mesh.proxy.accesslog;

import io.envoyproxy.envoy.config.accesslog.v3.AccessLog.ConfigTypeCase;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.access_loggers.stream.v3.StdoutAccessLog;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** Access logs to stdout or files, each in its configured format (Envoy's default if none). */
public final class AccessLog {
  private record Sink(PrintStream out, LogFormat format) {}

  private final List<Sink> sinks;

  private AccessLog(List<Sink> sinks) {
    this.sinks = sinks;
  }

  public static AccessLog of(List<io.envoyproxy.envoy.config.accesslog.v3.AccessLog> configs) {
    return new AccessLog(configs.stream().map(AccessLog::sink).toList());
  }

  public boolean enabled() {
    return !sinks.isEmpty();
  }

  private static Sink sink(io.envoyproxy.envoy.config.accesslog.v3.AccessLog config) {
    if (config.getConfigTypeCase() != ConfigTypeCase.TYPED_CONFIG) {
      return new Sink(System.out, LogFormat.envoyDefault());
    }
    try {
      var any = config.getTypedConfig();
      if (any.is(FileAccessLog.class)) {
        FileAccessLog file = any.unpack(FileAccessLog.class);
        LogFormat format =
            file.hasLogFormat() ? LogFormat.of(file.getLogFormat()) : LogFormat.envoyDefault();
        if (file.getPath().equals("/dev/stdout")) {
          return new Sink(System.out, format);
        }
        OutputStream out = new FileOutputStream(file.getPath(), true);
        return new Sink(new PrintStream(out, true, StandardCharsets.UTF_8), format);
      }
      StdoutAccessLog stdout = any.unpack(StdoutAccessLog.class);
      return new Sink(
          System.out,
          stdout.hasLogFormat() ? LogFormat.of(stdout.getLogFormat()) : LogFormat.envoyDefault());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public void log(dev.mesh.proxy.stream.StreamInfo e) {
    for (Sink s : sinks) {
      s.out().println(s.format().format(e));
    }
  }
}
