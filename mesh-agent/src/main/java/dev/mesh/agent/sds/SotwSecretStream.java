package dev.mesh.agent.sds;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.grpc.stub.StreamObserver;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * A state-of-the-world SDS stream (StreamSecrets), as Envoy speaks it: a request names the secrets
 * it wants; a response carries those that exist, with a version and a nonce; the client ACKs with
 * that nonce (and the version) or NACKs with an error_detail, keeping its previous version. A
 * request with a nonce other than the last one sent is stale and changes nothing. A secret that
 * does not exist yet (no certificate before the CA answered) is sent as soon as it does; one this
 * agent never serves is logged and left out.
 */
final class SotwSecretStream extends SecretStream<DiscoveryResponse> {
  private static final Logger LOG = Logger.getLogger(SotwSecretStream.class.getName());

  private Set<String> names = Set.of();
  private Map<String, String> sent = Map.of();
  private String lastNonce = "";

  SotwSecretStream(long id, StreamObserver<DiscoveryResponse> out, Supplier<SecretSnapshot> now) {
    super(id, "SDS stream", out, now);
  }

  @Override
  synchronized void request(Object message) {
    DiscoveryRequest r = (DiscoveryRequest) message;
    if (!accepts(r.hasNode(), r.getNode(), r.getTypeUrl())) {
      return;
    }
    if (!r.getResponseNonce().isEmpty() && !r.getResponseNonce().equals(lastNonce)) {
      return; // stale: answers a response that a newer one replaced
    }
    Set<String> asked = new LinkedHashSet<>(r.getResourceNamesList());
    if (r.hasErrorDetail()) {
      LOG.warning(
          where()
              + ": NACK of "
              + asked
              + " version "
              + r.getVersionInfo()
              + ": "
              + r.getErrorDetail().getMessage()
              + "; the proxy keeps its previous secrets");
      names = asked;
      return;
    }
    if (!r.getResponseNonce().isEmpty()) {
      if (asked.equals(names)) {
        LOG.fine(where() + ": ACK of " + asked + " version " + r.getVersionInfo());
        return;
      }
    }
    names = asked;
    for (String n : asked) {
      warnIfUnknown(n);
    }
    // A new set of names is answered whatever was sent before: the client asked again.
    send(current.get(), true);
  }

  @Override
  synchronized void push(SecretSnapshot now) {
    send(now, false);
  }

  private void send(SecretSnapshot now, boolean asked) {
    if (done) {
      return;
    }
    Map<String, String> versions = new HashMap<>();
    DiscoveryResponse.Builder r =
        DiscoveryResponse.newBuilder().setTypeUrl(SecretSnapshot.TYPE_URL);
    StringBuilder version = new StringBuilder();
    for (String n : names) {
      var secret = now.secrets().get(n);
      if (secret == null) {
        continue;
      }
      r.addResources(Any.pack(secret));
      versions.put(n, now.versions().get(n));
      version
          .append(version.isEmpty() ? "" : ",")
          .append(n)
          .append('=')
          .append(now.versions().get(n));
    }
    if (versions.isEmpty() || (!asked && versions.equals(sent))) {
      return;
    }
    lastNonce = Long.toString(++nonces);
    sent = Map.copyOf(versions);
    out.onNext(r.setVersionInfo(version.toString()).setNonce(lastNonce).build());
    LOG.info(where() + ": sent " + List.copyOf(versions.keySet()) + " version " + version);
  }
}
