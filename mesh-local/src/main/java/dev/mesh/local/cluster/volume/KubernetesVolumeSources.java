package dev.mesh.local.cluster.volume;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Volume sources read through the API with the node's client, as the kubelet reads them (the Node
 * authorizer lets a node read only what the pods bound to it refer to).
 */
public final class KubernetesVolumeSources implements VolumeSources {
  private final KubernetesClient client;

  public KubernetesVolumeSources(KubernetesClient client) {
    this.client = client;
  }

  @Override
  public Optional<ConfigMap> configMap(String namespace, String name) {
    return Optional.ofNullable(client.configMaps().inNamespace(namespace).withName(name).get());
  }

  @Override
  public Optional<Secret> secret(String namespace, String name) {
    return Optional.ofNullable(client.secrets().inNamespace(namespace).withName(name).get());
  }

  @Override
  public Optional<Token> token(Pod pod, String audience, long expirationSeconds) {
    var meta = pod.getMetadata();
    String sa = pod.getSpec().getServiceAccountName();
    String account = sa == null || sa.isEmpty() ? "default" : sa;
    TokenRequest request =
        new TokenRequestBuilder()
            // The API server takes none or the account's name; fabric8's DSL needs one.
            .withNewMetadata()
            .withName(account)
            .endMetadata()
            .withNewSpec()
            .withAudiences(audience == null || audience.isEmpty() ? List.of() : List.of(audience))
            .withExpirationSeconds(expirationSeconds)
            .withNewBoundObjectRef()
            .withApiVersion("v1")
            .withKind("Pod")
            .withName(meta.getName())
            .withUid(meta.getUid())
            .endBoundObjectRef()
            .endSpec()
            .build();
    // Both APIs serve TokenRequest (the embedded one signs with the local cluster's key); a
    // refusal (no such service account) fails the volume, as it fails the kubelet's mount.
    TokenRequest answer =
        client
            .serviceAccounts()
            .inNamespace(meta.getNamespace())
            .withName(account)
            .tokenRequest(request);
    if (answer == null
        || answer.getStatus() == null
        || answer.getStatus().getToken() == null
        || answer.getStatus().getToken().isEmpty()) {
      throw new IllegalStateException(
          "the TokenRequest for serviceaccount "
              + meta.getNamespace()
              + "/"
              + account
              + " came back without a token");
    }
    Instant now = Instant.now();
    String expires = answer.getStatus().getExpirationTimestamp();
    return Optional.of(
        new Token(
            answer.getStatus().getToken(),
            now,
            expires == null ? now.plusSeconds(expirationSeconds) : Instant.parse(expires)));
  }
}
