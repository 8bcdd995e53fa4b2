package dev.mesh.pilot.registry;

import dev.mesh.config.networking.DestinationRule;
import dev.mesh.config.networking.ServiceEntry;
import dev.mesh.config.networking.Sidecar;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.config.security.PeerAuthentication;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The Kubernetes registry: fabric8 informers on Services, EndpointSlices, Pods, Namespaces and the
 * mesh's Istio kinds, in every namespace, against the cluster of the current kubeconfig or the
 * in-cluster service account (the same code against fabric8's mock server in tests).
 */
public final class KubernetesRegistry implements Registry {
  private static final Logger LOG = Logger.getLogger(KubernetesRegistry.class.getName());

  private final KubernetesClient client;
  private final boolean ownsClient;
  private final List<SharedIndexInformer<?>> informers = new ArrayList<>();
  private SharedIndexInformer<Service> services;
  private SharedIndexInformer<EndpointSlice> slices;
  private SharedIndexInformer<Pod> pods;
  private SharedIndexInformer<Namespace> namespaces;
  private SharedIndexInformer<VirtualService> virtualServices;
  private SharedIndexInformer<DestinationRule> destinationRules;
  private SharedIndexInformer<ServiceEntry> serviceEntries;
  private SharedIndexInformer<Sidecar> sidecars;
  private SharedIndexInformer<PeerAuthentication> peerAuthentications;
  private SharedIndexInformer<AuthorizationPolicy> authorizationPolicies;

  public KubernetesRegistry() {
    this(new KubernetesClientBuilder().build(), true);
  }

  /** The client it watches the cluster with (pilot's other API work shares it). */
  public KubernetesClient client() {
    return client;
  }

  public KubernetesRegistry(KubernetesClient client) {
    this(client, false);
  }

  private KubernetesRegistry(KubernetesClient client, boolean ownsClient) {
    this.client = client;
    this.ownsClient = ownsClient;
  }

  @Override
  public void start(Runnable onChange) {
    requireReachable(client);
    LOG.info("watching the Kubernetes API at " + client.getMasterUrl());
    services = watch(client.services().inAnyNamespace().runnableInformer(0), onChange);
    slices =
        watch(
            client.discovery().v1().endpointSlices().inAnyNamespace().runnableInformer(0),
            onChange);
    pods = watch(client.pods().inAnyNamespace().runnableInformer(0), onChange);
    namespaces = watch(client.namespaces().runnableInformer(0), onChange);
    virtualServices = watchCustom(VirtualService.class, onChange);
    destinationRules = watchCustom(DestinationRule.class, onChange);
    serviceEntries = watchCustom(ServiceEntry.class, onChange);
    sidecars = watchCustom(Sidecar.class, onChange);
    peerAuthentications = watchCustom(PeerAuthentication.class, onChange);
    authorizationPolicies = watchCustom(AuthorizationPolicy.class, onChange);
    List<java.util.concurrent.CompletableFuture<Void>> synced = new ArrayList<>();
    for (SharedIndexInformer<?> i : informers) {
      synced.add(i.start().toCompletableFuture());
    }
    for (var f : synced) {
      try {
        f.get(30, java.util.concurrent.TimeUnit.SECONDS);
      } catch (Exception e) {
        LOG.warning("an informer did not sync within 30 s: " + e.getMessage());
      }
    }
  }

  /** Throws, with a message saying what to do, when the API server cannot be reached. */
  public static void requireReachable(KubernetesClient client) {
    try {
      client.getKubernetesVersion();
    } catch (RuntimeException e) {
      Throwable cause = e;
      while (cause.getCause() != null) {
        cause = cause.getCause();
      }
      throw new IllegalStateException(
          "no Kubernetes API at "
              + client.getMasterUrl()
              + " ("
              + cause
              + "): use a kubeconfig or run in a cluster, or give --config-dir=DIR to serve the"
              + " YAML in DIR without a cluster",
          null);
    }
  }

  private <T extends HasMetadata> SharedIndexInformer<T> watchCustom(
      Class<T> type, Runnable onChange) {
    return watch(client.resources(type).inAnyNamespace().runnableInformer(0), onChange);
  }

  private <T extends HasMetadata> SharedIndexInformer<T> watch(
      SharedIndexInformer<T> informer, Runnable onChange) {
    informer.addEventHandler(
        new ResourceEventHandler<T>() {
          @Override
          public void onAdd(T obj) {
            onChange.run();
          }

          @Override
          public void onUpdate(T oldObj, T newObj) {
            onChange.run();
          }

          @Override
          public void onDelete(T obj, boolean deletedFinalStateUnknown) {
            onChange.run();
          }
        });
    informers.add(informer);
    return informer;
  }

  @Override
  public MeshSnapshot current() {
    if (services == null) {
      return MeshSnapshot.EMPTY;
    }
    return new MeshSnapshot(
        List.copyOf(services.getStore().list()),
        List.copyOf(slices.getStore().list()),
        List.of(),
        List.copyOf(pods.getStore().list()),
        List.copyOf(namespaces.getStore().list()),
        valid(virtualServices.getStore().list()),
        valid(destinationRules.getStore().list()),
        valid(serviceEntries.getStore().list()),
        valid(sidecars.getStore().list()),
        valid(peerAuthentications.getStore().list()),
        valid(authorizationPolicies.getStore().list()));
  }

  private final java.util.Set<String> reported = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * The resources that pass Istio's validation; the others are reported once (namespace/name and
   * the field) and left out. The API server checked their schema; these are the webhook's rules,
   * which a cluster without Istio's webhook does not apply.
   */
  private <T extends io.fabric8.kubernetes.client.CustomResource<?, ?>> List<T> valid(
      List<T> resources) {
    List<T> out = new ArrayList<>(resources.size());
    for (T r : resources) {
      var kind = dev.mesh.config.IstioKind.of(r.getApiVersion(), r.getKind());
      String ref = r.getMetadata().getNamespace() + "/" + r.getMetadata().getName();
      var errors =
          kind.isEmpty()
              ? List.<dev.mesh.config.ConfigError>of()
              : dev.mesh.config.validation.IstioValidator.validate(kind.get(), ref, r);
      if (errors.isEmpty()) {
        out.add(r);
      } else if (reported.add(ref + "@" + r.getMetadata().getResourceVersion())) {
        invalid.incrementAndGet();
        LOG.warning(
            "invalid config skipped: "
                + new dev.mesh.config.InvalidConfigException(errors).getMessage());
      }
    }
    return List.copyOf(out);
  }

  private final java.util.concurrent.atomic.AtomicLong invalid =
      new java.util.concurrent.atomic.AtomicLong();

  @Override
  public long invalidResources() {
    return invalid.get();
  }

  @Override
  public void close() {
    informers.forEach(SharedIndexInformer::close);
    if (ownsClient) {
      client.close();
    }
  }
}
