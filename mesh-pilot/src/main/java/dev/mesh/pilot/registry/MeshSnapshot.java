package dev.mesh.pilot.registry;

import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.ServiceEntry;
import dev.mesh.config.networking.Sidecar;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.config.security.PeerAuthentication;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.util.List;

/**
 * Everything pilot knows at one moment: the Kubernetes objects it watches and the mesh's own
 * resources, from the cluster or from a config directory. Immutable; a change makes a new one.
 */
public record MeshSnapshot(
    List<Service> services,
    List<EndpointSlice> endpointSlices,
    List<Endpoints> endpoints,
    List<Pod> pods,
    List<Namespace> namespaces,
    List<VirtualService> virtualServices,
    List<DestinationRule> destinationRules,
    List<ServiceEntry> serviceEntries,
    List<Sidecar> sidecars,
    List<PeerAuthentication> peerAuthentications,
    List<AuthorizationPolicy> authorizationPolicies) {

  /** The snapshot of a mixed list of objects; kinds pilot does not use are left out. */
  public static MeshSnapshot of(List<? extends HasMetadata> objects) {
    return new MeshSnapshot(
        only(objects, Service.class),
        only(objects, EndpointSlice.class),
        only(objects, Endpoints.class),
        only(objects, Pod.class),
        only(objects, Namespace.class),
        only(objects, VirtualService.class),
        only(objects, DestinationRule.class),
        only(objects, ServiceEntry.class),
        only(objects, Sidecar.class),
        only(objects, PeerAuthentication.class),
        only(objects, AuthorizationPolicy.class));
  }

  private static <T> List<T> only(List<? extends HasMetadata> objects, Class<T> type) {
    return objects.stream().filter(type::isInstance).map(type::cast).toList();
  }

  public static final MeshSnapshot EMPTY =
      new MeshSnapshot(
          List.of(), List.of(), List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
          List.of(), List.of(), List.of());
}
