package dev.mesh.pilot.ca;

import dev.mesh.api.SpiffeId;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;

/**
 * Checks a service-account token with the API server (a TokenReview for audience {@code istio-ca},
 * as istiod does) and gives the identity the API server vouches for. The identity comes from the
 * review's username alone, never from the token's own claims.
 */
final class TokenReviewer {
  static final String AUDIENCE = "istio-ca";
  private static final String SA_PREFIX = "system:serviceaccount:";
  private static final String SA_GROUP = "system:serviceaccounts";

  private final KubernetesClient client;
  private final String trustDomain;

  TokenReviewer(KubernetesClient client, String trustDomain) {
    this.client = client;
    this.trustDomain = trustDomain;
  }

  /** The caller's SPIFFE id; throws with the reason (for pilot's log, not for the caller). */
  SpiffeId review(String token) throws Rejected {
    TokenReview review =
        new TokenReviewBuilder()
            .withNewSpec()
            .withToken(token)
            .withAudiences(AUDIENCE)
            .endSpec()
            .build();
    TokenReview answer;
    try {
      answer = client.authentication().v1().tokenReviews().create(review);
    } catch (KubernetesClientException e) {
      throw new Rejected(
          "the TokenReview failed at "
              + client.getMasterUrl()
              + ": "
              + (e.getStatus() != null ? e.getStatus().getMessage() : e.getMessage()));
    }
    TokenReviewStatus status = answer == null ? null : answer.getStatus();
    if (status == null) {
      throw new Rejected("the TokenReview came back without a status");
    }
    if (status.getError() != null && !status.getError().isEmpty()) {
      throw new Rejected(
          "the service account authentication returns an error: " + status.getError());
    }
    if (!Boolean.TRUE.equals(status.getAuthenticated())) {
      throw new Rejected("the token is not authenticated");
    }
    List<String> audiences = status.getAudiences();
    if (audiences != null && !audiences.isEmpty() && !audiences.contains(AUDIENCE)) {
      throw new Rejected("the token is for audiences " + audiences + ", not " + AUDIENCE);
    }
    if (status.getUser() == null) {
      throw new Rejected("the TokenReview names no user");
    }
    List<String> groups = status.getUser().getGroups();
    if (groups == null || !groups.contains(SA_GROUP)) {
      throw new Rejected("the token is not a service account");
    }
    String username = status.getUser().getUsername();
    if (username == null || !username.startsWith(SA_PREFIX)) {
      throw new Rejected("invalid username field in the token review result: " + username);
    }
    String[] parts = username.substring(SA_PREFIX.length()).split(":", -1);
    if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
      throw new Rejected("invalid username field in the token review result: " + username);
    }
    try {
      return new SpiffeId(trustDomain, parts[0], parts[1]);
    } catch (IllegalArgumentException e) {
      throw new Rejected("the token's service account " + username + ": " + e.getMessage());
    }
  }

  /** A token the API server did not vouch for. */
  static final class Rejected extends Exception {
    Rejected(String reason) {
      super(reason);
    }
  }
}
