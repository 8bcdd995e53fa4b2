package dev.mesh.agent.sds;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.secret.v3.SecretDiscoveryServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * grpc-java's generated SDS client over the agent's Unix socket, as Envoy's sds-grpc cluster
 * reaches it: what it receives is queued for the test to wait on.
 */
final class SdsClient implements AutoCloseable {
  static final String NODE = "sidecar~10.44.0.9~sleep-1.default~default.svc.cluster.local";

  private final MultiThreadIoEventLoopGroup group =
      new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
  private final ManagedChannel channel;

  SdsClient(Path socket) {
    channel =
        NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollDomainSocketChannel.class)
            .eventLoopGroup(group)
            .usePlaintext()
            .build();
  }

  /** A StreamSecrets stream. */
  Stream<DiscoveryRequest, DiscoveryResponse> sotw() {
    Stream<DiscoveryRequest, DiscoveryResponse> s = new Stream<>();
    s.requests = SecretDiscoveryServiceGrpc.newStub(channel).streamSecrets(s);
    return s;
  }

  /** A DeltaSecrets stream. */
  Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> delta() {
    Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> s = new Stream<>();
    s.requests = SecretDiscoveryServiceGrpc.newStub(channel).deltaSecrets(s);
    return s;
  }

  static DiscoveryRequest request(String version, String nonce, String... names) {
    return DiscoveryRequest.newBuilder()
        .setNode(Node.newBuilder().setId(NODE))
        .setTypeUrl(SecretSnapshot.TYPE_URL)
        .setVersionInfo(version)
        .setResponseNonce(nonce)
        .addAllResourceNames(List.of(names))
        .build();
  }

  static List<Secret> secrets(DiscoveryResponse r) {
    List<Secret> out = new ArrayList<>();
    r.getResourcesList()
        .forEach(
            a -> {
              try {
                out.add(a.unpack(Secret.class));
              } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new AssertionError(e);
              }
            });
    return out;
  }

  static final class Stream<Q, R> implements StreamObserver<R> {
    final BlockingQueue<R> received = new LinkedBlockingQueue<>();
    volatile Throwable error;
    StreamObserver<Q> requests;

    void send(Q request) {
      synchronized (this) {
        requests.onNext(request);
      }
    }

    /** The next response that matches, skipping others; fails at the deadline. */
    R await(Predicate<R> wanted, Duration within) throws InterruptedException {
      long deadline = System.nanoTime() + within.toNanos();
      while (true) {
        long left = deadline - System.nanoTime();
        R r = left <= 0 ? null : received.poll(left, TimeUnit.NANOSECONDS);
        if (r == null) {
          throw new AssertionError("no such SDS response within " + within + "; error: " + error);
        }
        if (wanted.test(r)) {
          return r;
        }
      }
    }

    @Override
    public void onNext(R value) {
      received.add(value);
    }

    @Override
    public void onError(Throwable t) {
      error = t;
    }

    @Override
    public void onCompleted() {}
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    group.shutdownGracefully();
  }
}
