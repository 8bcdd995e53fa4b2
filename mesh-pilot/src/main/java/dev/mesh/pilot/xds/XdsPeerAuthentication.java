package dev.mesh.pilot.xds;

import dev.mesh.api.NodeId;
import dev.mesh.api.SpiffeId;
import dev.mesh.security.SubjectAltNames;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.service.discovery.v3.DeltaDiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.grpc.BindableService;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * ADS on the TLS port as istiod guards it: a stream is served only to a caller whose client
 * certificate chains to the mesh's root (the TLS handshake verified the chain; this checks that one
 * was presented and names a SPIFFE identity), else UNAUTHENTICATED; and the node it announces must
 * be of that identity's namespace, else PERMISSION_DENIED naming both, so that a workload cannot
 * ask for (and read) another namespace's config. The plaintext port and the Unix socket are not
 * wrapped: there the network, or the file's permissions, are the boundary.
 */
public final class XdsPeerAuthentication implements ServerInterceptor {
  private static final Logger LOG = Logger.getLogger(XdsPeerAuthentication.class.getName());

  private XdsPeerAuthentication() {}

  /** {@code ads} with every stream authenticated and authorized. */
  public static ServerServiceDefinition intercept(BindableService ads) {
    return ServerInterceptors.intercept(ads, new XdsPeerAuthentication());
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Object peer = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    X509Certificate leaf = leaf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
    List<SpiffeId> identities = leaf == null ? List.of() : identities(leaf);
    if (identities.isEmpty()) {
      String why =
          leaf == null
              ? "xDS on this port needs a client certificate from the mesh's CA (the workload"
                  + " certificate, SDS secret default); none was presented"
              : "xDS on this port needs a client certificate naming a SPIFFE identity; the one"
                  + " presented ("
                  + leaf.getSubjectX500Principal()
                  + ") has none";
      LOG.warning("xDS refused " + peer + ": UNAUTHENTICATED: " + why);
      call.close(Status.UNAUTHENTICATED.withDescription(why), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Refusable<Q, R> guarded = new Refusable<>(call);
    return new Authorizing<>(next.startCall(guarded, headers), guarded, identities, peer);
  }

  /**
   * Why {@code node} may not be served to a caller with {@code identities}, or null when it may:
   * the node's namespace (the one pilot makes its config for) must be an identity's.
   */
  static String refusal(String nodeId, List<SpiffeId> identities) {
    String namespace;
    try {
      namespace = NodeId.parse(nodeId).namespace();
    } catch (IllegalArgumentException e) {
      return e.getMessage() + ", so it cannot be matched to the caller's identity " + identities;
    }
    for (SpiffeId id : identities) {
      if (id.namespace().equals(namespace)) {
        return null;
      }
    }
    return "node "
        + nodeId
        + " is in namespace '"
        + namespace
        + "', but the client certificate's identity "
        + (identities.size() == 1 ? identities.get(0) : identities)
        + " is of namespace '"
        + identities.get(0).namespace()
        + "'";
  }

  private static X509Certificate leaf(SSLSession session) {
    if (session == null) {
      return null;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain.length > 0 && chain[0] instanceof X509Certificate x ? x : null;
    } catch (SSLPeerUnverifiedException e) {
      return null; // client authentication is optional on this port: the CA's callers have none
    }
  }

  private static List<SpiffeId> identities(X509Certificate leaf) {
    List<SpiffeId> out = new ArrayList<>(1);
    for (String uri : SubjectAltNames.uris(leaf)) {
      try {
        out.add(SpiffeId.parse(uri));
      } catch (IllegalArgumentException e) {
        // a URI that is not a workload identity grants nothing
      }
    }
    return out;
  }

  /** The call as the ADS server sees it, which the check can close under it. */
  private static final class Refusable<Q, R>
      extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    private volatile boolean refused;

    Refusable(ServerCall<Q, R> call) {
      super(call);
    }

    synchronized void refuse(Status status) {
      refused = true;
      super.close(status, new Metadata());
    }

    boolean refused() {
      return refused;
    }

    // Once refused, the server's own ending of the stream (it sees a cancel) finds it closed.
    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!refused) {
        super.close(status, trailers);
      }
    }

    @Override
    public synchronized void sendMessage(R message) {
      if (!refused) {
        super.sendMessage(message);
      }
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!refused) {
        super.sendHeaders(headers);
      }
    }

    @Override
    public boolean isCancelled() {
      return refused || super.isCancelled();
    }
  }

  /** Checks each node the stream announces before the ADS server sees the request. */
  private static final class Authorizing<Q, R>
      extends ForwardingServerCallListener.SimpleForwardingServerCallListener<Q> {
    private final Refusable<Q, R> call;
    private final List<SpiffeId> identities;
    private final Object peer;
    private String authorized = "";

    Authorizing(
        ServerCall.Listener<Q> delegate,
        Refusable<Q, R> call,
        List<SpiffeId> identities,
        Object peer) {
      super(delegate);
      this.call = call;
      this.identities = identities;
      this.peer = peer;
    }

    @Override
    public void onMessage(Q message) {
      if (call.refused()) {
        return;
      }
      Node node =
          message instanceof DiscoveryRequest r
              ? r.getNode()
              : message instanceof DeltaDiscoveryRequest d ? d.getNode() : null;
      // Envoy repeats the node in every request unless told not to: checked once per node id.
      if (node != null && !node.getId().isEmpty() && !node.getId().equals(authorized)) {
        String problem = refusal(node.getId(), identities);
        if (problem != null) {
          LOG.warning("xDS refused " + peer + ": PERMISSION_DENIED: " + problem);
          call.refuse(Status.PERMISSION_DENIED.withDescription("authorization failed: " + problem));
          super.onCancel(); // the ADS server ends its stream as for a client that went away
          return;
        }
        authorized = node.getId();
      }
      super.onMessage(message);
    }

    @Override
    public void onHalfClose() {
      if (!call.refused()) {
        super.onHalfClose();
      }
    }

    @Override
    public void onCancel() {
      if (!call.refused()) {
        super.onCancel();
      }
    }

    @Override
    public void onComplete() {
      if (!call.refused()) {
        super.onComplete();
      }
    }

    @Override
    public void onReady() {
      if (!call.refused()) {
        super.onReady();
      }
    }
  }
}
