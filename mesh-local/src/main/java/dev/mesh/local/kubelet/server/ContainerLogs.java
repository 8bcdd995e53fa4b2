package dev.mesh.local.kubelet.server;

import dev.mesh.local.kubelet.server.KubeletHttpHandler.Target;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code GET /containerLogs/{ns}/{pod}/{container}}: the container's log file as text, from its
 * last {@code tailLines} lines, at most {@code limitBytes}, and with {@code follow} the bytes
 * appended later until the client goes. {@code timestamps} is not honoured: the log file is the
 * process's raw output, with no time recorded per line.
 */
final class ContainerLogs {
  private static final Logger LOG = Logger.getLogger(ContainerLogs.class.getName());
  private static final int CHUNK = 64 * 1024;

  /**
   * How long a follower waits before it looks at the file again once it has read all of it: the
   * writer is another process, so growth is only seen by looking; this bounds the latency.
   */
  private static final long FOLLOW_POLL_MILLIS = 100;

  private ContainerLogs() {}

  static void serve(
      ChannelHandlerContext ctx,
      FullHttpRequest req,
      KubeletPods pods,
      String namespace,
      String pod,
      String container,
      Map<String, List<String>> query) {
    Target t = new Target(namespace, pod, container);
    boolean follow;
    long tailLines;
    long limitBytes;
    try {
      follow = bool(query, "follow");
      tailLines = number(query, "tailLines", -1);
      limitBytes = number(query, "limitBytes", Long.MAX_VALUE);
    } catch (IllegalArgumentException e) {
      KubeletHttpHandler.respond(ctx, req, HttpResponseStatus.BAD_REQUEST, e.getMessage());
      return;
    }
    Optional<Path> file = pods.logFile(namespace, pod, container);
    if (file.isEmpty() || !Files.isRegularFile(file.get())) {
      KubeletHttpHandler.respond(
          ctx,
          req,
          HttpResponseStatus.NOT_FOUND,
          "container \"" + container + "\" in pod \"" + namespace + "/" + pod + "\" is not known");
      return;
    }
    FileChannel log;
    long start;
    try {
      log = FileChannel.open(file.get(), StandardOpenOption.READ);
      start = tailLines < 0 ? 0 : startOfLastLines(log, tailLines);
    } catch (IOException e) {
      KubeletHttpHandler.respond(
          ctx,
          req,
          HttpResponseStatus.INTERNAL_SERVER_ERROR,
          "cannot read the log of " + t + ": " + e.getMessage());
      return;
    }
    HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
    HttpUtil.setTransferEncodingChunked(head, true);
    boolean keepAlive = HttpUtil.isKeepAlive(req) && !follow;
    if (!keepAlive) {
      head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    ctx.write(head);
    LOG.fine(
        "logs of " + t + (follow ? " followed" : "") + " for " + ctx.channel().remoteAddress());
    Tail tail = new Tail(log, start, limitBytes, follow, keepAlive, t);
    ctx.pipeline().addLast(tail);
  }

  private static boolean bool(Map<String, List<String>> q, String name) {
    List<String> v = q.get(name);
    if (v == null || v.isEmpty()) {
      return false;
    }
    return switch (v.get(0)) {
      case "true", "1", "True", "TRUE" -> true;
      case "false", "0", "False", "FALSE", "" -> false;
      default -> throw new IllegalArgumentException(name + ": not a boolean: " + v.get(0));
    };
  }

  private static long number(Map<String, List<String>> q, String name, long absent) {
    List<String> v = q.get(name);
    if (v == null || v.isEmpty() || v.get(0).isEmpty()) {
      return absent;
    }
    try {
      long n = Long.parseLong(v.get(0));
      if (n < 0) {
        throw new IllegalArgumentException(name + " must not be negative: " + n);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + ": not a number: " + v.get(0));
    }
  }

  /** Where the last {@code lines} lines begin; a last line with no newline counts as one. */
  static long startOfLastLines(FileChannel log, long lines) throws IOException {
    long size = log.size();
    if (lines == 0) {
      return size;
    }
    long pos = size;
    long seen = 0;
    ByteBuffer buf = ByteBuffer.allocate(8192);
    boolean last = true;
    while (pos > 0) {
      int n = (int) Math.min(buf.capacity(), pos);
      buf.clear().limit(n);
      long from = pos - n;
      while (buf.hasRemaining()) {
        if (log.read(buf, from + buf.position()) < 0) {
          break;
        }
      }
      for (int i = n - 1; i >= 0; i--) {
        if (buf.get(i) == '\n') {
          // The file's final newline ends the last line rather than starting one.
          if (last && from + i == size - 1) {
            last = false;
            continue;
          }
          if (++seen == lines) {
            return from + i + 1;
          }
        }
        last = false;
      }
      pos = from;
    }
    return 0;
  }

  /** Sends the file from a position on, as chunks, as fast as the client takes them. */
  private static final class Tail extends ChannelInboundHandlerAdapter {
    private final FileChannel log;
    private final boolean follow;
    private final boolean keepAlive;
    private final Target target;
    private long position;
    private long remaining;
    private ChannelHandlerContext ctx;
    private ScheduledFuture<?> next;
    private boolean done;

    Tail(
        FileChannel log,
        long position,
        long limit,
        boolean follow,
        boolean keepAlive,
        Target target) {
      this.log = log;
      this.position = position;
      this.remaining = limit;
      this.follow = follow;
      this.keepAlive = keepAlive;
      this.target = target;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      this.ctx = ctx;
      pump();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      if (ctx.channel().isWritable()) {
        pump();
      }
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      stop();
      ctx.fireChannelInactive();
    }

    private void pump() {
      next = null;
      if (done) {
        return;
      }
      try {
        while (ctx.channel().isWritable()) {
          if (remaining == 0) {
            finish();
            return;
          }
          if (log.size() < position) {
            // Truncated in place (copytruncate rotation): the new content starts at 0.
            position = 0;
          }
          int want = (int) Math.min(CHUNK, remaining);
          ByteBuf chunk = ctx.alloc().buffer(want);
          int n = chunk.writeBytes(log, position, want);
          if (n <= 0) {
            chunk.release();
            if (!follow) {
              finish();
              return;
            }
            ctx.flush();
            next = ctx.executor().schedule(this::pump, FOLLOW_POLL_MILLIS, TimeUnit.MILLISECONDS);
            return;
          }
          position += n;
          remaining -= n;
          ctx.write(new DefaultHttpContent(chunk));
        }
        ctx.flush();
      } catch (IOException e) {
        LOG.warning("logs of " + target + ": cannot read the log file: " + e.getMessage());
        stop();
        ctx.close();
      }
    }

    private void finish() {
      stop();
      var f = ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
      if (!keepAlive) {
        f.addListener(ChannelFutureListener.CLOSE);
      }
      ctx.pipeline().remove(this);
    }

    private void stop() {
      if (done) {
        return;
      }
      done = true;
      if (next != null) {
        next.cancel(false);
      }
      try {
        log.close();
      } catch (IOException e) {
        // Read-only: nothing is lost.
      }
    }
  }
}
