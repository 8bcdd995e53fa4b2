package dev.mesh.pilot.xds;

import dev.mesh.pilot.registry.MeshSnapshot;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * One line per security policy seen (and again when it changes): what pilot does with it. A
 * PeerAuthentication is not enforced when pilot sends no TLS ({@code --mesh.mtls.enabled=false}),
 * and a STRICT one never passes in silence then.
 */
final class SecurityNotice {
  private static final Logger LOG = Logger.getLogger(SecurityNotice.class.getName());
  private final Set<String> told = ConcurrentHashMap.newKeySet();
  private final boolean mtls;

  SecurityNotice(boolean mtls) {
    this.mtls = mtls;
  }

  void check(MeshSnapshot mesh) {
    for (var pa : mesh.peerAuthentications()) {
      String mode =
          pa.getSpec() == null || pa.getSpec().mtls == null || pa.getSpec().mtls.mode == null
              ? "UNSET"
              : pa.getSpec().mtls.mode.name();
      String ref =
          "PeerAuthentication "
              + pa.getMetadata().getNamespace()
              + "/"
              + pa.getMetadata().getName()
              + " (mtls.mode "
              + mode
              + ")";
      if (mtls) {
        if (told.add(ref + "@" + pa.getMetadata().getResourceVersion())) {
          LOG.info(ref + " applied to the inbound listeners of the workloads it selects");
        }
      } else {
        tell(
            ref
                + " is NOT enforced: pilot sends no TLS (it is not the mesh's CA here, or --mesh.mtls.enabled=false)"
                + (mode.equals("STRICT") ? "; plaintext traffic is still accepted" : ""),
            pa.getMetadata().getResourceVersion());
      }
    }
    for (var ap : mesh.authorizationPolicies()) {
      String ref =
          "AuthorizationPolicy "
              + ap.getMetadata().getNamespace()
              + "/"
              + ap.getMetadata().getName();
      var spec = ap.getSpec();
      if (spec != null
          && (spec.targetRef != null || spec.targetRefs != null && !spec.targetRefs.isEmpty())) {
        tell(
            ref
                + " has targetRef(s), which attach it to gateways and waypoints: sidecars ignore it",
            ap.getMetadata().getResourceVersion());
      } else if (told.add(ref + "@" + ap.getMetadata().getResourceVersion())) {
        LOG.info(
            ref + " applied as RBAC filters on the inbound chains of the workloads it selects");
      }
    }
  }

  private void tell(String line, String version) {
    if (told.add(line + "@" + version)) {
      LOG.warning(line);
    }
  }
}
