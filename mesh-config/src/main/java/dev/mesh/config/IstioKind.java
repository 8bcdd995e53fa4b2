package dev.mesh.config;

import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.Gateway;
import dev.mesh.config.networking.ServiceEntry;
import dev.mesh.config.networking.Sidecar;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.config.security.PeerAuthentication;
import io.fabric8.kubernetes.client.CustomResource;
import java.util.Optional;
import java.util.Set;

/** The Istio resource kinds the mesh understands, with the API versions Istio serves them at. */
public enum IstioKind {
  VIRTUAL_SERVICE("networking.istio.io", "VirtualService", VirtualService.class),
  DESTINATION_RULE("networking.istio.io", "DestinationRule", DestinationRule.class),
  GATEWAY("networking.istio.io", "Gateway", Gateway.class),
  SERVICE_ENTRY("networking.istio.io", "ServiceEntry", ServiceEntry.class),
  SIDECAR("networking.istio.io", "Sidecar", Sidecar.class),
  PEER_AUTHENTICATION("security.istio.io", "PeerAuthentication", PeerAuthentication.class),
  AUTHORIZATION_POLICY("security.istio.io", "AuthorizationPolicy", AuthorizationPolicy.class);

  // Istio serves the same schema under every version; users' YAML still says v1alpha3 or v1beta1.
  private static final Set<String> NETWORKING_VERSIONS = Set.of("v1", "v1beta1", "v1alpha3");
  private static final Set<String> SECURITY_VERSIONS = Set.of("v1", "v1beta1");

  private final String group;
  private final String kind;
  private final Class<? extends CustomResource<?, ?>> type;

  IstioKind(String group, String kind, Class<? extends CustomResource<?, ?>> type) {
    this.group = group;
    this.kind = kind;
    this.type = type;
  }

  public String group() {
    return group;
  }

  public String kind() {
    return kind;
  }

  public Class<? extends CustomResource<?, ?>> type() {
    return type;
  }

  /** The API versions Istio serves this kind at; the schema is the same at each. */
  public Set<String> servedVersions() {
    return group.equals("security.istio.io") ? SECURITY_VERSIONS : NETWORKING_VERSIONS;
  }

  /** The kind of a document, by its apiVersion and kind; empty for anything not Istio's. */
  public static Optional<IstioKind> of(String apiVersion, String kind) {
    if (apiVersion == null || kind == null) {
      return Optional.empty();
    }
    int slash = apiVersion.indexOf('/');
    if (slash < 0) {
      return Optional.empty();
    }
    String group = apiVersion.substring(0, slash);
    String version = apiVersion.substring(slash + 1);
    for (IstioKind k : values()) {
      if (k.group.equals(group) && k.kind.equals(kind) && k.servedVersions().contains(version)) {
        return Optional.of(k);
      }
    }
    return Optional.empty();
  }
}
