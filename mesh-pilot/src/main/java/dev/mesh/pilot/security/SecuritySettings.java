package dev.mesh.pilot.security;

import dev.mesh.config.mesh.MeshConfig;

/**
 * The mesh-wide security settings translation needs, from MeshConfig.
 *
 * @param trustDomain the SPIFFE trust domain of workload identities ({@code trustDomain})
 * @param rootNamespace where mesh-wide policies live ({@code rootNamespace})
 * @param autoMtls whether clients pick mutual TLS by themselves for endpoints that can take it
 *     ({@code enableAutoMtls})
 * @param mtls whether pilot sends TLS config at all: off only for proxies that cannot fetch SDS
 *     secrets, since a listener or cluster naming a secret they cannot get is refused whole
 */
public record SecuritySettings(
    String trustDomain, String rootNamespace, boolean autoMtls, boolean mtls) {

  public static final SecuritySettings DEFAULTS = of(MeshConfig.defaults(), true);

  /** The settings of a MeshConfig, Istio's defaults where it says nothing. */
  public static SecuritySettings of(MeshConfig mesh, boolean mtls) {
    MeshConfig d = MeshConfig.defaults();
    return new SecuritySettings(
        blank(mesh.trustDomain) ? d.trustDomain : mesh.trustDomain,
        blank(mesh.rootNamespace) ? d.rootNamespace : mesh.rootNamespace,
        mesh.enableAutoMtls == null ? d.enableAutoMtls : mesh.enableAutoMtls,
        mtls);
  }

  /** The SPIFFE id of a service account. */
  public String spiffe(String namespace, String serviceAccount) {
    return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }
}
