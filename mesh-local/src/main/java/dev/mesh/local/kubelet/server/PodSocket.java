package dev.mesh.local.kubelet.server;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.nio.NioDomainSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;

/**
 * A connection to a pod's port (what {@link KubeletPods#connect} opened) joined to the event loop
 * of the client's connection, so that the relay between them runs on one thread. Reading from the
 * pod pauses while the client's side cannot take more.
 */
final class PodSocket extends ChannelInboundHandlerAdapter {
  /** The client's side of the relay. */
  interface Peer {
    /** Bytes from the pod; the peer owns (releases) them. */
    void fromPod(ByteBuf data);

    /** The pod closed its side (or the connection failed); nothing more comes from it. */
    void podClosed();

    /** Whether the client's side can take more now. */
    boolean canTakeMore();

    /** The pod can take more again after {@link PodSocket#write} said it could not. */
    void podWritable();
  }

  private final Peer peer;
  private final Channel channel;
  private boolean closedDelivered;

  private PodSocket(Channel channel, Peer peer) {
    this.channel = channel;
    this.peer = peer;
  }

  /** Joins {@code connected} to {@code loop}; call on that loop. */
  static PodSocket attach(SocketChannel connected, EventLoop loop, Peer peer) throws IOException {
    Channel ch =
        connected.getRemoteAddress() instanceof UnixDomainSocketAddress
            ? new NioDomainSocketChannel(connected)
            : new NioSocketChannel(connected);
    ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
    PodSocket s = new PodSocket(ch, peer);
    ch.pipeline().addLast(s);
    loop.register(ch);
    return s;
  }

  /** Sends bytes to the pod; returns whether it can take more at once. */
  boolean write(ByteBuf data) {
    if (!channel.isActive()) {
      data.release();
      return true;
    }
    channel.writeAndFlush(data);
    return channel.isWritable();
  }

  /** The client sent its last byte: the pod reads to its end and may still answer. */
  void shutdownOutput() {
    if (channel instanceof DuplexChannel d && channel.isActive()) {
      channel
          .writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER)
          .addListener(f -> d.shutdownOutput());
    }
  }

  void close() {
    channel.close();
  }

  /** The client's side can take more again. */
  void resume() {
    channel.config().setAutoRead(true);
    channel.read();
  }

  Channel channel() {
    return channel;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    peer.fromPod((ByteBuf) msg);
    if (!peer.canTakeMore()) {
      ctx.channel().config().setAutoRead(false);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof ChannelInputShutdownEvent) {
      closed();
      // The client's copy has nothing left to wait for from the pod; end the connection.
      ctx.close();
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      peer.podWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    closed();
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }

  private void closed() {
    if (!closedDelivered) {
      closedDelivered = true;
      peer.podClosed();
    }
  }
}
