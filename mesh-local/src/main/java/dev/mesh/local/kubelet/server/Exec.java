package dev.mesh.local.kubelet.server;

import dev.mesh.local.kubelet.server.KubeletHttpHandler.Target;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code /exec/{ns}/{pod}/{container}?command=...&input=1&output=1&error=1&tty=0}, as the kubelet
 * serves it (pkg/kubelet/cri/streaming/remotecommand): over SPDY with protocol {@code
 * v4.channel.k8s.io}, one stream per pipe (header {@code streamType}: stdin, stdout, stderr, error,
 * resize); over WebSocket ({@code v4.channel.k8s.io}, {@code v5.channel.k8s.io}) channel 0 stdin, 1
 * stdout, 2 stderr, 3 error, 4 resize, and in v5 a message on 255 closing one. The exit status is a
 * metav1.Status on the error stream. Terminal resizes are read and ignored.
 */
final class Exec {
  private static final Logger LOG = Logger.getLogger(Exec.class.getName());
  static final String V4 = "v4.channel.k8s.io";
  static final String V5 = "v5.channel.k8s.io";

  /** How long the client may take to open its streams, as the kubelet's streamCreationTimeout. */
  private static final long STREAMS_TIMEOUT_SECONDS = 30;

  private Exec() {}

  /** What the client asked for. */
  record Options(List<String> command, boolean stdin, boolean stdout, boolean stderr, boolean tty) {
    static Options parse(Map<String, List<String>> q) {
      List<String> command = q.getOrDefault("command", List.of());
      if (command.isEmpty()) {
        throw new IllegalArgumentException("no command given (query parameter \"command\")");
      }
      // The API server names them input, output, error (api.ExecStdinParam, ...); the names of
      // PodExecOptions are taken too, for callers that come straight here.
      boolean tty = on(q, "tty");
      boolean stdin = on(q, "input") || on(q, "stdin");
      boolean stdout = on(q, "output") || on(q, "stdout");
      // A terminal has no separate stderr, as the kubelet has it.
      boolean stderr = (on(q, "error") || on(q, "stderr")) && !tty;
      if (!stdin && !stdout && !stderr) {
        throw new IllegalArgumentException("you must specify at least 1 of stdin, stdout, stderr");
      }
      return new Options(command, stdin, stdout, stderr, tty);
    }

    private static boolean on(Map<String, List<String>> q, String name) {
      List<String> v = q.get(name);
      return v != null && !v.isEmpty() && (v.get(0).equals("1") || v.get(0).equals("true"));
    }
  }

  // The exit status, as metav1.Status JSON in the field order Go writes it.

  static String success() {
    return "{\"metadata\":{},\"status\":\"Success\"}";
  }

  static String nonZeroExit(int code) {
    return "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero"
        + " exit code: exit status "
        + code
        + "\",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\","
        + "\"message\":\""
        + code
        + "\"}]}}";
  }

  static String internalError(String message) {
    String m = json(message == null ? "exec failed" : message);
    return "{\"metadata\":{},\"status\":\"Failure\",\"message\":"
        + m
        + ",\"reason\":\"InternalError\",\"details\":{\"causes\":[{\"message\":"
        + m
        + "}]},\"code\":500}";
  }

  private static String json(String s) {
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

  // SPDY.

  private enum Pipe {
    error,
    stdin,
    stdout,
    stderr,
    resize
  }

  static void serveSpdy(
      ChannelHandlerContext ctx,
      FullHttpRequest req,
      KubeletPods pods,
      Target target,
      Options opts,
      ExecutorService blocking) {
    List<String> supported = List.of(V4);
    String protocol = SpdyUpgrade.negotiate(req, supported).orElse(null);
    if (protocol == null) {
      SpdyUpgrade.refuse(ctx, req, supported);
      return;
    }
    String what = "exec in " + target;
    int expected =
        1
            + (opts.stdin() ? 1 : 0)
            + (opts.stdout() ? 1 : 0)
            + (opts.stderr() ? 1 : 0)
            + (opts.tty() ? 1 : 0);
    Map<Pipe, SpdyStream> streams = new EnumMap<>(Pipe.class);
    ExecSession[] session = new ExecSession[1];
    SpdyConnection[] conn = new SpdyConnection[1];
    ScheduledFuture<?>[] timeout = new ScheduledFuture<?>[1];
    conn[0] =
        new SpdyConnection(
            what,
            s -> {
              Pipe pipe;
              try {
                pipe = Pipe.valueOf(String.valueOf(s.header("streamtype")));
              } catch (IllegalArgumentException e) {
                LOG.info(what + ": stream of type " + s.header("streamtype") + " reset");
                s.reset();
                return;
              }
              if (streams.containsKey(pipe) || session[0] != null) {
                s.reset();
                return;
              }
              streams.put(pipe, s);
              if (pipe != Pipe.stdin) {
                // Only stdin carries anything from the client; a resize is not acted on.
                s.listen(discarding());
              }
              if (streams.size() == expected) {
                timeout[0].cancel(false);
                session[0] = startSpdy(pods, target, opts, blocking, streams, conn[0]);
              }
            },
            () -> {
              if (session[0] != null) {
                session[0].abort();
              }
            });
    SpdyUpgrade.upgrade(ctx, protocol, conn[0]);
    timeout[0] =
        ctx.channel()
            .eventLoop()
            .schedule(
                () -> {
                  LOG.info(what + ": timed out waiting for the client to create streams");
                  ctx.channel().close();
                },
                STREAMS_TIMEOUT_SECONDS,
                TimeUnit.SECONDS);
  }

  private static ExecSession startSpdy(
      KubeletPods pods,
      Target target,
      Options opts,
      ExecutorService blocking,
      Map<Pipe, SpdyStream> streams,
      SpdyConnection conn) {
    SpdyStream stdout = streams.get(Pipe.stdout);
    SpdyStream stderr = streams.get(Pipe.stderr);
    SpdyStream error = streams.get(Pipe.error);
    ExecSession session =
        ExecSession.start(
            pods,
            target,
            opts,
            blocking,
            new ExecSession.Output() {
              @Override
              public void stdout(ByteBuf data) {
                stdout.write(data);
              }

              @Override
              public void stderr(ByteBuf data) {
                stderr.write(data);
              }

              @Override
              public void finished(String status) {
                if (stdout != null) {
                  stdout.close();
                }
                if (stderr != null) {
                  stderr.close();
                }
                error.write(Unpooled.copiedBuffer(status, StandardCharsets.UTF_8));
                error.close();
                SpdyStream in = streams.get(Pipe.stdin);
                if (in != null) {
                  in.close();
                }
                SpdyStream resize = streams.get(Pipe.resize);
                if (resize != null) {
                  resize.close();
                }
                conn.goAway();
              }
            });
    SpdyStream stdin = streams.get(Pipe.stdin);
    if (stdin != null) {
      stdin.listen(
          new SpdyStream.Listener() {
            @Override
            public void data(ByteBuf data) {
              session.stdin(data);
            }

            @Override
            public void remoteClosed() {
              session.stdinClosed();
            }
          });
    }
    return session;
  }

  private static SpdyStream.Listener discarding() {
    return new SpdyStream.Listener() {
      @Override
      public void data(ByteBuf data) {
        data.release();
      }

      @Override
      public void remoteClosed() {}
    };
  }

  // WebSocket.

  static void serveWebSocket(
      ChannelHandlerContext ctx,
      FullHttpRequest req,
      KubeletPods pods,
      Target target,
      Options opts,
      ExecutorService blocking) {
    String what = "exec in " + target;
    WebSockets.upgrade(
        ctx,
        req,
        List.of(V5, V4),
        what,
        new WebSockets.Session() {
          private ExecSession session;

          @Override
          public void opened(WebSockets.Channels channels) {
            session =
                ExecSession.start(
                    pods,
                    target,
                    opts,
                    blocking,
                    new ExecSession.Output() {
                      @Override
                      public void stdout(ByteBuf data) {
                        channels.send(1, data);
                      }

                      @Override
                      public void stderr(ByteBuf data) {
                        channels.send(2, data);
                      }

                      @Override
                      public void finished(String status) {
                        channels.send(3, Unpooled.copiedBuffer(status, StandardCharsets.UTF_8));
                        channels.close();
                      }
                    });
          }

          @Override
          public void message(int channel, ByteBuf data) {
            if (channel == 0 && session != null && opts.stdin()) {
              session.stdin(data);
            } else if (channel == 255 && session != null) {
              // v5: the client closes one of its channels; stdin is the one that matters.
              boolean stdin = data.isReadable() && data.getUnsignedByte(data.readerIndex()) == 0;
              data.release();
              if (stdin) {
                session.stdinClosed();
              }
            } else {
              data.release();
            }
          }

          @Override
          public void closed() {
            if (session != null) {
              session.abort();
            }
          }
        });
  }
}
