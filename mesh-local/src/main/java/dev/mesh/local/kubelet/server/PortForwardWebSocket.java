package dev.mesh.local.kubelet.server;

import dev.mesh.local.kubelet.server.KubeletHttpHandler.Target;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.logging.Logger;

/**
 * {@code /portForward/{ns}/{pod}?port=...} over WebSocket, as the kubelet serves it
 * (pkg/kubelet/cri/streaming/portforward/websocket.go): for the i-th port, channel 2i carries data
 * both ways and 2i+1 errors to the client; the first message on each starts with the port as two
 * bytes, little-endian. The connection ends when every port's pod side has.
 */
final class PortForwardWebSocket {
  private static final Logger LOG = Logger.getLogger(PortForwardWebSocket.class.getName());
  static final List<String> PROTOCOLS =
      List.of("v4.channel.k8s.io", "channel.k8s.io", "portforward.k8s.io");

  private PortForwardWebSocket() {}

  static void serve(
      ChannelHandlerContext ctx,
      FullHttpRequest req,
      KubeletPods pods,
      Target target,
      Map<String, List<String>> query,
      ExecutorService blocking) {
    List<Integer> ports = new ArrayList<>();
    try {
      for (String v : query.getOrDefault("port", List.of())) {
        for (String p : v.split(",")) {
          int port = Integer.parseInt(p.strip());
          if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + p + " must be in 1-65535");
          }
          ports.add(port);
        }
      }
    } catch (NumberFormatException e) {
      KubeletHttpHandler.respond(
          ctx, req, HttpResponseStatus.BAD_REQUEST, "unable to parse a port: " + e.getMessage());
      return;
    } catch (IllegalArgumentException e) {
      KubeletHttpHandler.respond(ctx, req, HttpResponseStatus.BAD_REQUEST, e.getMessage());
      return;
    }
    if (ports.isEmpty()) {
      KubeletHttpHandler.respond(
          ctx, req, HttpResponseStatus.BAD_REQUEST, "query parameter \"port\" is required");
      return;
    }
    String what = "port-forward to " + target;
    WebSockets.upgrade(ctx, req, PROTOCOLS, what, new Forward(pods, target, ports, blocking));
  }

  private static final class Forward implements WebSockets.Session {
    private final KubeletPods pods;
    private final Target target;
    private final ExecutorService blocking;
    private final List<Port> ports = new ArrayList<>();
    private WebSockets.Channels channels;
    private int open;

    Forward(KubeletPods pods, Target target, List<Integer> ports, ExecutorService blocking) {
      this.pods = pods;
      this.target = target;
      this.blocking = blocking;
      for (int i = 0; i < ports.size(); i++) {
        this.ports.add(new Port(i, ports.get(i)));
      }
      this.open = ports.size();
    }

    @Override
    public void opened(WebSockets.Channels channels) {
      this.channels = channels;
      for (Port p : ports) {
        channels.send(2 * p.index, portBytes(p.port));
        channels.send(2 * p.index + 1, portBytes(p.port));
        p.connect();
      }
    }

    private static ByteBuf portBytes(int port) {
      return Unpooled.wrappedBuffer(new byte[] {(byte) port, (byte) (port >> 8)});
    }

    @Override
    public void message(int channel, ByteBuf data) {
      int i = channel / 2;
      if (channel % 2 == 0 && i < ports.size()) {
        ports.get(i).fromClient(data);
      } else {
        data.release();
      }
    }

    @Override
    public void closed() {
      for (Port p : ports) {
        p.end();
      }
    }

    @Override
    public void writable() {
      for (Port p : ports) {
        if (p.pod != null) {
          p.pod.resume();
        }
      }
    }

    private void portDone() {
      if (--open == 0) {
        channels.close();
      }
    }

    /** One forwarded port: its pod socket and what the client sent before it was connected. */
    private final class Port implements PodSocket.Peer {
      final int index;
      final int port;
      private PodSocket pod;
      private final ArrayDeque<ByteBuf> pending = new ArrayDeque<>();
      private boolean ended;

      Port(int index, int port) {
        this.index = index;
        this.port = port;
      }

      void connect() {
        EventLoop loop = channels.channel().eventLoop();
        blocking.execute(
            () -> {
              try {
                SocketChannel ch = pods.connect(target.namespace(), target.pod(), port);
                loop.execute(
                    () -> {
                      try {
                        if (ended) {
                          ch.close();
                          return;
                        }
                        pod = PodSocket.attach(ch, loop, this);
                        LOG.fine("port-forward to " + target + ":" + port + " over WebSocket");
                        while (!pending.isEmpty()) {
                          pod.write(pending.poll());
                        }
                      } catch (IOException e) {
                        fail(e);
                      }
                    });
              } catch (IOException | RuntimeException e) {
                loop.execute(() -> fail(e));
              }
            });
      }

      private void fail(Exception e) {
        String msg = "error forwarding port " + port + " to pod " + target + ": " + e.getMessage();
        LOG.info("port-forward: " + msg);
        channels.send(2 * index + 1, Unpooled.copiedBuffer(msg, StandardCharsets.UTF_8));
        podClosed();
      }

      void fromClient(ByteBuf data) {
        if (ended) {
          data.release();
        } else if (pod == null) {
          pending.add(data);
        } else if (!pod.write(data)) {
          channels.channel().config().setAutoRead(false);
        }
      }

      void end() {
        ended = true;
        while (!pending.isEmpty()) {
          pending.poll().release();
        }
        if (pod != null) {
          pod.close();
        }
      }

      @Override
      public void fromPod(ByteBuf data) {
        channels.send(2 * index, data);
      }

      @Override
      public void podClosed() {
        if (ended) {
          return;
        }
        end();
        channels.channel().config().setAutoRead(true);
        portDone();
      }

      @Override
      public boolean canTakeMore() {
        return channels.channel().isWritable();
      }

      @Override
      public void podWritable() {
        channels.channel().config().setAutoRead(true);
      }
    }
  }
}
