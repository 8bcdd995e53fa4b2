package dev.mesh.pilot.xds;

import dev.mesh.pilot.registry.MeshSnapshot;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * PeerAuthentication and AuthorizationPolicy are read but not enforced until the security work
 * lands: pilot says so, once per resource (and again when it changes), and never lets a STRICT
 * policy pass in silence.
 */
final class SecurityNotice {
  private static final Logger LOG = Logger.getLogger(SecurityNotice.class.getName());
  private final Set<String> told = ConcurrentHashMap.newKeySet();

  void check(MeshSnapshot mesh) {
    for (var pa : mesh.peerAuthentications()) {
      String mode =
          pa.getSpec() == null || pa.getSpec().mtls == null || pa.getSpec().mtls.mode == null
              ? "UNSET"
              : pa.getSpec().mtls.mode.name();
      tell(
          "PeerAuthentication "
              + pa.getMetadata().getNamespace()
              + "/"
              + pa.getMetadata().getName()
              + " (mtls.mode "
              + mode
              + ") is NOT enforced: this mesh has no mTLS yet"
              + (mode.equals("STRICT") ? "; plaintext traffic is still accepted" : ""),
          pa.getMetadata().getResourceVersion());
    }
    for (var ap : mesh.authorizationPolicies()) {
      tell(
          "AuthorizationPolicy "
              + ap.getMetadata().getNamespace()
              + "/"
              + ap.getMetadata().getName()
              + " is NOT enforced: this mesh has no authorization yet; all requests are allowed",
          ap.getMetadata().getResourceVersion());
    }
  }

  private void tell(String line, String version) {
    if (told.add(line + "@" + version)) {
      LOG.warning(line);
    }
  }
}
