package dev.mesh.local.kubelet.server;

import dev.mesh.local.kubelet.server.KubeletHttpHandler.Target;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.FullHttpRequest;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code /portForward/{ns}/{pod}} over SPDY, protocol {@code portforward.k8s.io}, as the kubelet
 * serves it (pkg/kubelet/cri/streaming/portforward/httpstream.go): each forwarded connection is a
 * pair of streams the client opens with headers {@code streamType} (error, data), {@code port} and
 * {@code requestID}; once both are there the data stream is relayed to the pod's port, and a
 * failure is written as text on the error stream. Both streams end when the pod's side does.
 */
final class PortForwardSpdy {
  static final String PROTOCOL = "portforward.k8s.io";
  private static final Logger LOG = Logger.getLogger(PortForwardSpdy.class.getName());

  /** How long the second stream of a pair may take, as the kubelet's streamCreationTimeout. */
  private static final long PAIR_TIMEOUT_SECONDS = 30;

  private final KubeletPods pods;
  private final Target target;
  private final ExecutorService blocking;
  private final Map<String, Pair> pairs = new HashMap<>();
  private SpdyConnection session;

  private PortForwardSpdy(KubeletPods pods, Target target, ExecutorService blocking) {
    this.pods = pods;
    this.target = target;
    this.blocking = blocking;
  }

  static void serve(
      ChannelHandlerContext ctx,
      FullHttpRequest req,
      KubeletPods pods,
      Target target,
      ExecutorService blocking) {
    // A client that offers no protocol gets the only one there is, as httpstream.Handshake does.
    String protocol =
        req.headers().contains(SpdyUpgrade.PROTOCOL_HEADER)
            ? SpdyUpgrade.negotiate(req, List.of(PROTOCOL)).orElse(null)
            : PROTOCOL;
    if (protocol == null) {
      SpdyUpgrade.refuse(ctx, req, List.of(PROTOCOL));
      return;
    }
    PortForwardSpdy pf = new PortForwardSpdy(pods, target, blocking);
    String what = "port-forward to " + target;
    pf.session = new SpdyConnection(what, pf::stream, () -> LOG.fine(what + ": connection closed"));
    SpdyUpgrade.upgrade(ctx, protocol, pf.session);
    LOG.fine(what + ": SPDY session with " + ctx.channel().remoteAddress());
  }

  private void stream(SpdyStream s) {
    String type = s.header("streamtype");
    String portText = s.header("port");
    int port;
    try {
      port = Integer.parseInt(portText);
      if (port < 1 || port > 65535) {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      LOG.info("port-forward to " + target + ": stream with bad port " + portText + " reset");
      s.reset();
      return;
    }
    if (!"error".equals(type) && !"data".equals(type)) {
      LOG.info("port-forward to " + target + ": stream of type " + type + " reset");
      s.reset();
      return;
    }
    String requestId = s.header("requestid");
    if (requestId == null) {
      // Clients older than request ids open error then data with consecutive odd ids.
      requestId = Integer.toString("error".equals(type) ? s.id() : s.id() - 2);
    }
    String key = requestId;
    Pair p =
        pairs.computeIfAbsent(
            key,
            k -> {
              Pair created = new Pair(k, port);
              created.timeout =
                  s.channel()
                      .eventLoop()
                      .schedule(created::timedOut, PAIR_TIMEOUT_SECONDS, TimeUnit.SECONDS);
              return created;
            });
    if ("error".equals(type) ? p.error != null : p.data != null) {
      LOG.info("port-forward to " + target + ": request " + key + " has a second " + type);
      s.reset();
      return;
    }
    if ("error".equals(type)) {
      p.error = s;
      // The client writes nothing on it; it only reads what went wrong.
      s.listen(
          new SpdyStream.Listener() {
            @Override
            public void data(ByteBuf data) {
              data.release();
            }

            @Override
            public void remoteClosed() {}
          });
    } else {
      p.data = s;
    }
    if (p.error != null && p.data != null) {
      p.timeout.cancel(false);
      pairs.remove(key);
      p.start();
    }
  }

  /** One forwarded connection: its two streams and, once connected, the pod's socket. */
  private final class Pair implements SpdyStream.Listener, PodSocket.Peer {
    final String requestId;
    final int port;
    SpdyStream error;
    SpdyStream data;
    java.util.concurrent.ScheduledFuture<?> timeout;
    private PodSocket pod;
    private final ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
    private boolean clientDone;
    private boolean ended;

    Pair(String requestId, int port) {
      this.requestId = requestId;
      this.port = port;
    }

    void timedOut() {
      pairs.remove(requestId);
      String msg = "timed out waiting for streams of request " + requestId;
      LOG.info("port-forward to " + target + ": " + msg);
      if (error != null) {
        error.write(Unpooled.copiedBuffer(msg, StandardCharsets.UTF_8));
        error.close();
      }
      if (data != null) {
        data.reset();
      }
    }

    void start() {
      data.listen(this);
      EventLoop loop = data.channel().eventLoop();
      blocking.execute(
          () -> {
            SocketChannel ch;
            try {
              ch = pods.connect(target.namespace(), target.pod(), port);
            } catch (IOException | RuntimeException e) {
              loop.execute(() -> fail(e));
              return;
            }
            loop.execute(
                () -> {
                  try {
                    if (ended) {
                      ch.close();
                      return;
                    }
                    pod = PodSocket.attach(ch, loop, this);
                    LOG.fine("port-forward to " + target + ":" + port + " request " + requestId);
                    while (!pending.isEmpty()) {
                      pod.write(pending.poll());
                    }
                    if (clientDone) {
                      pod.shutdownOutput();
                    }
                  } catch (IOException e) {
                    fail(e);
                  }
                });
          });
    }

    private void fail(Exception e) {
      String msg = "error forwarding port " + port + " to pod " + target + ": " + e.getMessage();
      LOG.info("port-forward: " + msg);
      error.write(Unpooled.copiedBuffer(msg, StandardCharsets.UTF_8));
      end();
    }

    private void end() {
      if (ended) {
        return;
      }
      ended = true;
      while (!pending.isEmpty()) {
        pending.poll().release();
      }
      data.close();
      error.close();
      if (pod != null) {
        pod.close();
      }
    }

    // The client's data stream.

    @Override
    public void data(ByteBuf bytes) {
      if (pod == null) {
        pending.add(bytes);
      } else if (!pod.write(bytes)) {
        // Head-of-line: the session's other streams wait too, for want of per-stream windows.
        data.channel().config().setAutoRead(false);
      }
    }

    @Override
    public void remoteClosed() {
      clientDone = true;
      if (pod != null) {
        pod.shutdownOutput();
      }
    }

    @Override
    public void writable() {
      if (pod != null) {
        pod.resume();
      }
    }

    // The pod's socket.

    @Override
    public void fromPod(ByteBuf bytes) {
      data.write(bytes);
    }

    @Override
    public void podClosed() {
      data.channel().config().setAutoRead(true);
      end();
    }

    @Override
    public boolean canTakeMore() {
      return data.channel().isWritable();
    }

    @Override
    public void podWritable() {
      data.channel().config().setAutoRead(true);
    }
  }
}
