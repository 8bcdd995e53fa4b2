package dev.mesh.pilot.ca;

import dev.mesh.api.SpiffeId;
import dev.mesh.security.v1alpha1.IstioCertificateRequest;
import dev.mesh.security.v1alpha1.IstioCertificateResponse;
import dev.mesh.security.v1alpha1.IstioCertificateServiceGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.net.SocketAddress;
import java.util.List;
import java.util.logging.Logger;

/**
 * {@code istio.v1.auth.IstioCertificateService/CreateCertificate}, as istiod answers it: the caller
 * is who the API server says its bearer token belongs to (a TokenReview for audience istio-ca), and
 * its certificate's one name is that service account's SPIFFE id, whatever the CSR asks. Any
 * authentication failure is UNAUTHENTICATED "request authenticate failure" (the reason goes to
 * pilot's log, not to the caller); signing failures are "CSR signing error (...)".
 */
public final class CaService extends IstioCertificateServiceGrpc.IstioCertificateServiceImplBase {
  private static final Logger LOG = Logger.getLogger(CaService.class.getName());
  static final String AUTHENTICATE_FAILURE = "request authenticate failure";
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
  private static final Context.Key<String> AUTHORIZATION_VALUE = Context.key("authorization");
  private static final Context.Key<SocketAddress> PEER = Context.key("peer");

  private final MeshCa ca;
  private final TokenReviewer reviewer;

  CaService(MeshCa ca, TokenReviewer reviewer) {
    this.ca = ca;
    this.reviewer = reviewer;
  }

  /** The service with the interceptor that hands it the call's authorization header. */
  public ServerServiceDefinition definition() {
    return ServerInterceptors.intercept(
        this,
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            Context ctx =
                Context.current()
                    .withValue(AUTHORIZATION_VALUE, headers.get(AUTHORIZATION))
                    .withValue(PEER, call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
            return Contexts.interceptCall(ctx, call, headers, next);
          }
        });
  }

  @Override
  public void createCertificate(
      IstioCertificateRequest request, StreamObserver<IstioCertificateResponse> response) {
    SocketAddress peer = PEER.get();
    SpiffeId id;
    try {
      id = reviewer.review(bearer(AUTHORIZATION_VALUE.get()));
    } catch (TokenReviewer.Rejected e) {
      LOG.warning("CA: refused a certificate to " + peer + ": " + e.getMessage());
      response.onError(
          Status.UNAUTHENTICATED.withDescription(AUTHENTICATE_FAILURE).asRuntimeException());
      return;
    }
    List<String> chain;
    try {
      chain = ca.signWorkload(request.getCsr(), id, request.getValidityDuration());
    } catch (CaError e) {
      LOG.warning("CA: refused a certificate for " + id + " to " + peer + ": " + e.getMessage());
      response.onError(e.status().asRuntimeException());
      return;
    }
    LOG.info(
        "CA: signed a certificate for "
            + id
            + " (peer "
            + peer
            + ", requested TTL "
            + GoDuration.format(java.time.Duration.ofSeconds(request.getValidityDuration()))
            + ")");
    response.onNext(IstioCertificateResponse.newBuilder().addAllCertChain(chain).build());
    response.onCompleted();
  }

  /** The token of {@code Bearer <token>}; the reasons are Istio's. */
  private static String bearer(String header) throws TokenReviewer.Rejected {
    if (header == null || header.isEmpty()) {
      throw new TokenReviewer.Rejected(
          "target JWT extraction error: no HTTP authorization header exists");
    }
    if (!header.regionMatches(true, 0, "Bearer ", 0, 7) || header.substring(7).isBlank()) {
      throw new TokenReviewer.Rejected(
          "target JWT extraction error: no bearer token exists in HTTP authorization header");
    }
    return header.substring(7).trim();
  }
}
