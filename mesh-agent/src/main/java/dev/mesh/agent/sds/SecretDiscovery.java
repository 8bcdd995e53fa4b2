package dev.mesh.agent.sds;

import dev.mesh.agent.identity.WorkloadIdentity;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.envoyproxy.envoy.service.secret.v3.SecretDiscoveryServiceGrpc;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * Envoy's SecretDiscoveryService over the workload's identity: state-of-the-world and delta
 * streams, and the unary fetch. Every new certificate or root is pushed to the streams that asked
 * for it.
 */
final class SecretDiscovery extends SecretDiscoveryServiceGrpc.SecretDiscoveryServiceImplBase {
  private static final Logger LOG = Logger.getLogger(SecretDiscovery.class.getName());

  private final WorkloadIdentity identity;
  private final Set<SecretStream<?>> streams = ConcurrentHashMap.newKeySet();
  private final AtomicLong ids = new AtomicLong();
  private volatile SecretSnapshot snapshot;

  SecretDiscovery(WorkloadIdentity identity) {
    this.identity = identity;
    this.snapshot = SecretSnapshot.of(identity);
    identity.onChange(this::changed);
  }

  /** A new certificate or root: every stream sends what changed of what it asked for. */
  private void changed() {
    SecretSnapshot now = SecretSnapshot.of(identity);
    snapshot = now;
    for (SecretStream<?> s : streams) {
      s.push(now);
    }
  }

  SecretSnapshot snapshot() {
    return snapshot;
  }

  int openStreams() {
    return streams.size();
  }

  @Override
  public StreamObserver<DiscoveryRequest> streamSecrets(StreamObserver<DiscoveryResponse> out) {
    return open(new SotwSecretStream(ids.incrementAndGet(), out, this::snapshot));
  }

  @Override
  public StreamObserver<DeltaDiscoveryRequest> deltaSecrets(
      StreamObserver<DeltaDiscoveryResponse> out) {
    return open(new DeltaSecretStream(ids.incrementAndGet(), out, this::snapshot));
  }

  @Override
  public void fetchSecrets(DiscoveryRequest request, StreamObserver<DiscoveryResponse> out) {
    SecretSnapshot now = snapshot;
    DiscoveryResponse.Builder r =
        DiscoveryResponse.newBuilder().setTypeUrl(SecretSnapshot.TYPE_URL);
    StringBuilder version = new StringBuilder();
    for (String name : request.getResourceNamesList()) {
      var secret = now.secrets().get(name);
      if (secret == null) {
        LOG.info("SDS fetch: no secret " + SecretStream.quoteUnknown(name));
        continue;
      }
      r.addResources(com.google.protobuf.Any.pack(secret));
      version.append(version.isEmpty() ? "" : ",").append(now.versions().get(name));
    }
    if (r.getResourcesCount() == 0) {
      out.onError(
          Status.NOT_FOUND
              .withDescription("no secret among " + request.getResourceNamesList())
              .asRuntimeException());
      return;
    }
    out.onNext(r.setVersionInfo(version.toString()).build());
    out.onCompleted();
  }

  private <T> StreamObserver<T> open(SecretStream<?> stream) {
    streams.add(stream);
    return new StreamObserver<>() {
      @Override
      public void onNext(T request) {
        stream.request(request);
      }

      @Override
      public void onError(Throwable t) {
        streams.remove(stream);
        stream.closed("ended by the client: " + Status.fromThrowable(t).getCode());
      }

      @Override
      public void onCompleted() {
        streams.remove(stream);
        stream.closed("closed by the client");
        stream.complete();
      }
    };
  }
}
