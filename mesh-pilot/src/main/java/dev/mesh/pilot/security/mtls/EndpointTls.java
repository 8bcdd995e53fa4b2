package dev.mesh.pilot.security.mtls;

import dev.mesh.pilot.model.Instance;
import dev.mesh.pilot.model.ServiceIndex;
import dev.mesh.pilot.security.SecuritySettings;
import dev.mesh.pilot.security.authn.MtlsMode;
import dev.mesh.pilot.security.authn.PeerAuthenticationPolicies;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What auto mTLS needs to know of an endpoint: whether its sidecar takes Istio's mutual TLS (its
 * pod says so with the {@code security.istio.io/tlsMode: istio} label and no PeerAuthentication
 * disables mTLS on its port, as Istio's endpoint builder checks), and the identities of the
 * workloads behind a service.
 */
public final class EndpointTls {
  private final ServiceIndex index;
  private final SecuritySettings security;

  public EndpointTls(ServiceIndex index, SecuritySettings security) {
    this.index = index;
    this.security = security;
  }

  public boolean takesIstioMutual(Instance i) {
    if (!security.mtls() || !UpstreamTls.ISTIO.equals(i.labels().get(UpstreamTls.TLS_MODE_LABEL))) {
      return false;
    }
    Pod pod = index.podByIp(i.address());
    if (pod == null) {
      return true; // a ServiceEntry endpoint labelled so: its label is all there is to go by
    }
    Map<String, String> labels =
        pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
    return PeerAuthenticationPolicies.forWorkload(
                index.snapshot().peerAuthentications(),
                security.rootNamespace(),
                pod.getMetadata().getNamespace(),
                labels)
            .forPort(i.port())
        != MtlsMode.DISABLE;
  }

  /** The SPIFFE ids of the pods among these endpoints, sorted. */
  public List<String> identities(List<Instance> instances) {
    TreeSet<String> out = new TreeSet<>();
    for (Instance i : instances) {
      Pod pod = index.podByIp(i.address());
      if (pod == null) {
        continue;
      }
      String sa = pod.getSpec() == null ? null : pod.getSpec().getServiceAccountName();
      out.add(
          security.spiffe(
              pod.getMetadata().getNamespace(), sa == null || sa.isEmpty() ? "default" : sa));
    }
    return List.copyOf(out);
  }
}
