package dev.mesh.agent.sds;

import io.envoyproxy.envoy.config.core.v3.Node;
import io.grpc.stub.StreamObserver;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * One SDS stream's half that the service drives (its requests, the pushes, its end), with what the
 * state-of-the-world and incremental protocols share: the client's node, the type check, the
 * warning for a name this agent does not serve, and the stream's end.
 */
abstract class SecretStream<R> {
  private static final Logger LOG = Logger.getLogger(SecretStream.class.getName());

  private final long id;
  private final String kind;
  private final Set<String> warned = new HashSet<>();
  protected final StreamObserver<R> out;
  protected final Supplier<SecretSnapshot> current;
  private String node = "";
  protected long nonces;
  protected boolean done;

  SecretStream(long id, String kind, StreamObserver<R> out, Supplier<SecretSnapshot> now) {
    this.id = id;
    this.kind = kind;
    this.out = out;
    this.current = now;
  }

  /** A request from the client (DiscoveryRequest or DeltaDiscoveryRequest). */
  abstract void request(Object request);

  /** The secrets changed: send what changed of what this stream asked for. */
  abstract void push(SecretSnapshot now);

  /** Notes the client's node; false (and a warning) for a request of another type than secrets. */
  protected final boolean accepts(boolean hasNode, Node n, String typeUrl) {
    if (hasNode && !n.getId().isEmpty()) {
      node = n.getId();
    }
    if (!typeUrl.isEmpty() && !typeUrl.equals(SecretSnapshot.TYPE_URL)) {
      LOG.warning(where() + ": ignored a request for " + typeUrl + ", not secrets");
      return false;
    }
    return true;
  }

  /** Logs once per stream a name this agent never serves. */
  protected final void warnIfUnknown(String name) {
    if (!SecretSnapshot.DEFAULT.equals(name)
        && !SecretSnapshot.ROOTCA.equals(name)
        && warned.add(name)) {
      LOG.info(where() + ": no secret " + quoteUnknown(name));
    }
  }

  /** The client went away. */
  synchronized void closed(String why) {
    done = true;
    LOG.info(where() + ": " + why);
  }

  /** Ends the server's side after the client closed its own. */
  void complete() {
    try {
      out.onCompleted();
    } catch (IllegalStateException e) {
      // already ended by the transport
    }
  }

  protected final String where() {
    return kind + " " + id + (node.isEmpty() ? "" : " of " + node);
  }

  /** A name this agent does not serve, as the log says it. */
  static String quoteUnknown(String name) {
    return "'" + name + "' (this agent serves default and ROOTCA)";
  }
}
