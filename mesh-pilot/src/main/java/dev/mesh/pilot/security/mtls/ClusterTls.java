package dev.mesh.pilot.security.mtls;

import dev.mesh.config.networking.DestinationRuleSpec.ClientTLSSettings;
import dev.mesh.pilot.security.SecuritySettings;
import dev.mesh.pilot.security.authn.MtlsMode;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import java.util.List;
import java.util.function.Consumer;

/**
 * How an outbound cluster talks to its endpoints, as Istio decides it: the DestinationRule's {@code
 * tls} when it sets one; else auto mTLS (MeshConfig enableAutoMtls) for a destination in the mesh
 * whose namespace does not DISABLE mTLS; else plaintext.
 */
public final class ClusterTls {
  private ClusterTls() {}

  /**
   * The cluster's destination.
   *
   * @param identities the SPIFFE ids of the workloads behind it
   * @param namespaceMode the mode of its namespace's PeerAuthentication (root namespace's when
   *     none), which is all auto mTLS can go by: a workload policy selects pods, not services
   */
  public record Destination(
      String host,
      int port,
      String subset,
      boolean http2,
      boolean external,
      List<String> identities,
      MtlsMode namespaceMode) {}

  public static void apply(
      Cluster.Builder c,
      ClientTLSSettings rule,
      Destination d,
      SecuritySettings security,
      Consumer<String> warn) {
    String sni = UpstreamTls.sni(d.port(), d.subset(), d.host());
    if (rule != null && rule.mode != null) {
      switch (rule.mode) {
        case DISABLE -> {}
        case SIMPLE, MUTUAL -> {
          if (rule.credentialName != null && !rule.credentialName.isBlank()) {
            warn.accept(
                "tls.credentialName: not supported on sidecars, the certificates must be files");
          }
          c.setTransportSocket(UpstreamTls.fromRule(rule, d.http2()));
        }
        case ISTIO_MUTUAL -> {
          if (!security.mtls()) {
            warn.accept("tls.mode ISTIO_MUTUAL: not applied, pilot sends no TLS");
            return;
          }
          List<String> sans =
              rule.subjectAltNames != null && !rule.subjectAltNames.isEmpty()
                  ? rule.subjectAltNames
                  : d.identities();
          String name = rule.sni != null && !rule.sni.isBlank() ? rule.sni : sni;
          c.setTransportSocket(UpstreamTls.istioMutual(sans, name, d.http2()));
        }
      }
      return;
    }
    if (security.mtls()
        && security.autoMtls()
        && !d.external()
        && d.namespaceMode() != MtlsMode.DISABLE) {
      c.addAllTransportSocketMatches(
          UpstreamTls.autoMatches(UpstreamTls.istioMutual(d.identities(), sni, d.http2())));
    }
  }
}
