package dev.mesh.agent.sds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * An incremental SDS stream (DeltaSecrets): the client subscribes and unsubscribes by name (its
 * first request may say which versions it already holds), and each response carries only the
 * secrets whose version it does not have. ACK and NACK are by nonce, as in state of the world.
 */
final class DeltaSecretStream extends SecretStream<DeltaDiscoveryResponse> {
  private static final Logger LOG = Logger.getLogger(DeltaSecretStream.class.getName());

  private final Set<String> subscribed = new LinkedHashSet<>();
  private final Map<String, String> held = new HashMap<>();

  DeltaSecretStream(
      long id, StreamObserver<DeltaDiscoveryResponse> out, Supplier<SecretSnapshot> now) {
    super(id, "SDS delta stream", out, now);
  }

  @Override
  synchronized void request(Object message) {
    DeltaDiscoveryRequest r = (DeltaDiscoveryRequest) message;
    if (!accepts(r.hasNode(), r.getNode(), r.getTypeUrl())) {
      return;
    }
    if (r.getResponseNonce().isEmpty()) {
      held.putAll(r.getInitialResourceVersionsMap());
    } else if (r.hasErrorDetail()) {
      LOG.warning(
          where()
              + ": NACK of response "
              + r.getResponseNonce()
              + ": "
              + r.getErrorDetail().getMessage()
              + "; the proxy keeps its previous secrets");
    } else {
      LOG.fine(where() + ": ACK of response " + r.getResponseNonce());
    }
    for (String n : r.getResourceNamesUnsubscribeList()) {
      subscribed.remove(n);
      held.remove(n);
    }
    for (String n : r.getResourceNamesSubscribeList()) {
      subscribed.add(n);
      warnIfUnknown(n);
    }
    send(current.get());
  }

  @Override
  synchronized void push(SecretSnapshot now) {
    send(now);
  }

  private void send(SecretSnapshot now) {
    if (done) {
      return;
    }
    List<Resource> changed = new ArrayList<>();
    for (String n : subscribed) {
      var secret = now.secrets().get(n);
      String version = now.versions().get(n);
      if (secret == null || version.equals(held.get(n))) {
        continue;
      }
      changed.add(
          Resource.newBuilder()
              .setName(n)
              .setVersion(version)
              .setResource(Any.pack(secret))
              .build());
    }
    if (changed.isEmpty()) {
      return;
    }
    // What is sent counts as held: a NACK leaves the client on its previous secret, and the next
    // change is sent anyway, since its version differs from both.
    changed.forEach(c -> held.put(c.getName(), c.getVersion()));
    String nonce = Long.toString(++nonces);
    out.onNext(
        DeltaDiscoveryResponse.newBuilder()
            .setTypeUrl(SecretSnapshot.TYPE_URL)
            .setNonce(nonce)
            .addAllResources(changed)
            .build());
    LOG.info(
        where()
            + ": sent "
            + changed.stream().map(c -> c.getName() + "=" + c.getVersion()).toList()
            + " nonce "
            + nonce);
  }
}
