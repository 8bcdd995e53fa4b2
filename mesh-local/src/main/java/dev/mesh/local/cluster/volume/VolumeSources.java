package dev.mesh.local.cluster.volume;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import java.time.Instant;
import java.util.Optional;

/**
 * Where a pod's volumes come from: the ConfigMaps and Secrets of its namespace, and tokens of its
 * service account bound to it (the TokenRequest API), as the kubelet reads them from the API.
 */
public interface VolumeSources {

  /** The ConfigMap, or empty if there is none of that name. */
  Optional<ConfigMap> configMap(String namespace, String name);

  /** The Secret, or empty if there is none of that name. */
  Optional<Secret> secret(String namespace, String name);

  /**
   * A token of the pod's service account for {@code audience} (null: the API server's own), bound
   * to the pod (both APIs serve TokenRequest); empty when there is no API ({@link #none()}).
   */
  Optional<Token> token(Pod pod, String audience, long expirationSeconds);

  /** A service-account token and when it expires. */
  record Token(String token, Instant issued, Instant expires) {
    /**
     * As the kubelet's token manager: renewed once 80% of its life has passed (or after 24 h), well
     * before it expires.
     */
    public boolean needsRefresh(Instant now) {
      long life = expires.getEpochSecond() - issued.getEpochSecond();
      return now.isAfter(expires.minusSeconds(life / 5))
          || now.isAfter(issued.plusSeconds(24 * 3600));
    }

    @Override
    public String toString() {
      return "Token[expires " + expires + "]"; // never the token itself in a log
    }
  }

  /** No API at all: no ConfigMap or Secret exists and no token is served. */
  static VolumeSources none() {
    return new VolumeSources() {
      @Override
      public Optional<ConfigMap> configMap(String namespace, String name) {
        return Optional.empty();
      }

      @Override
      public Optional<Secret> secret(String namespace, String name) {
        return Optional.empty();
      }

      @Override
      public Optional<Token> token(Pod pod, String audience, long expirationSeconds) {
        return Optional.empty();
      }
    };
  }
}
