package dev.mesh.agent.sds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryResponse;
import io.envoyproxy.envoy.service.discovery.v3.Resource;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
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
final class DeltaSecretStream implements SecretStream {
  private static final Logger LOG = Logger.getLogger(DeltaSecretStream.class.getName());

  private final long id;
  private final StreamObserver<DeltaDiscoveryResponse> out;
  private final Supplier<SecretSnapshot> current;
  private final Set<String> subscribed = new LinkedHashSet<>();
  private final Map<String, String> held = new HashMap<>();
  private final Set<String> warned = new HashSet<>();
  private String node = "";
  private long nonces;
  private boolean done;

  DeltaSecretStream(
      long id, StreamObserver<DeltaDiscoveryResponse> out, Supplier<SecretSnapshot> now) {
    this.id = id;
    this.out = out;
    this.current = now;
  }

  @Override
  public synchronized void request(Object message) {
    DeltaDiscoveryRequest r = (DeltaDiscoveryRequest) message;
    if (r.hasNode() && !r.getNode().getId().isEmpty()) {
      node = r.getNode().getId();
    }
    if (!r.getTypeUrl().isEmpty() && !r.getTypeUrl().equals(SecretSnapshot.TYPE_URL)) {
      LOG.warning(where() + ": ignored a request for " + r.getTypeUrl() + ", not secrets");
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
      if (!SecretSnapshot.DEFAULT.equals(n) && !SecretSnapshot.ROOTCA.equals(n) && warned.add(n)) {
        LOG.info(where() + ": no secret " + SotwSecretStream.quoteUnknown(n));
      }
    }
    send(current.get());
  }

  @Override
  public synchronized void push(SecretSnapshot now) {
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

  @Override
  public synchronized void closed(String why) {
    done = true;
    LOG.info(where() + ": " + why);
  }

  @Override
  public void complete() {
    try {
      out.onCompleted();
    } catch (IllegalStateException e) {
      // already ended by the transport
    }
  }

  private String where() {
    return "SDS delta stream " + id + (node.isEmpty() ? "" : " of " + node);
  }
}
