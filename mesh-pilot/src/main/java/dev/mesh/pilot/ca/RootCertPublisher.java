package dev.mesh.pilot.ca;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Publishes the mesh's root as ConfigMap {@code istio-ca-root-cert} (key {@code root-cert.pem}) in
 * every namespace, as istiod does: for every namespace there is and every one made later, and again
 * when the ConfigMap was changed or deleted. Workloads mount it to verify pilot and their peers.
 */
public final class RootCertPublisher implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(RootCertPublisher.class.getName());
  public static final String CONFIG_MAP = "istio-ca-root-cert";
  public static final String KEY = "root-cert.pem";

  private final KubernetesClient client;
  private final String rootPem;
  // The API calls run here, not in the informers' callbacks: a callback that waits on the API
  // holds up the delivery of every later event of its informer.
  private final java.util.concurrent.ExecutorService publishing =
      java.util.concurrent.Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "ca-root-publisher");
            t.setDaemon(true);
            return t;
          });
  private SharedIndexInformer<Namespace> namespaces;
  private SharedIndexInformer<ConfigMap> configMaps;

  RootCertPublisher(KubernetesClient client, String rootPem) {
    this.client = client;
    this.rootPem = rootPem;
  }

  /** Starts watching; every namespace gets the ConfigMap soon after (published in order). */
  void start() {
    namespaces = client.namespaces().inform(handler(n -> n.getMetadata().getName()), 0);
    configMaps =
        client
            .configMaps()
            .inAnyNamespace()
            .withField("metadata.name", CONFIG_MAP)
            .inform(handler(c -> c.getMetadata().getNamespace()), 0);
  }

  private <T> ResourceEventHandler<T> handler(java.util.function.Function<T, String> namespace) {
    return new ResourceEventHandler<T>() {
      @Override
      public void onAdd(T obj) {
        later(namespace.apply(obj));
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        later(namespace.apply(newObj));
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        if (obj instanceof ConfigMap) {
          later(namespace.apply(obj));
        }
      }
    };
  }

  private void later(String namespace) {
    try {
      publishing.execute(() -> publish(namespace));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed: pilot is stopping
    }
  }

  /** Makes the ConfigMap in {@code namespace} hold the root, if it does not already. */
  void publish(String namespace) {
    if (namespace == null) {
      return;
    }
    Namespace ns = namespaces == null ? null : namespaces.getStore().getByKey(namespace);
    if (ns != null
        && (ns.getMetadata().getDeletionTimestamp() != null
            || "Terminating".equals(ns.getStatus() == null ? null : ns.getStatus().getPhase()))) {
      return;
    }
    var resource = client.configMaps().inNamespace(namespace).withName(CONFIG_MAP);
    try {
      ConfigMap current = resource.get();
      if (current != null
          && current.getData() != null
          && rootPem.equals(current.getData().get(KEY))) {
        return;
      }
      ConfigMap wanted =
          new ConfigMapBuilder()
              .withNewMetadata()
              .withName(CONFIG_MAP)
              .withNamespace(namespace)
              .withLabels(Map.of("istio.io/config", "true"))
              .endMetadata()
              .withData(Map.of(KEY, rootPem))
              .build();
      if (current == null) {
        client.configMaps().inNamespace(namespace).resource(wanted).create();
        LOG.info("CA: root published in ConfigMap " + namespace + "/" + CONFIG_MAP);
      } else {
        resource.edit(
            c -> {
              c.setData(Map.of(KEY, rootPem));
              return c;
            });
        LOG.info("CA: root updated in ConfigMap " + namespace + "/" + CONFIG_MAP);
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return; // made meanwhile (another pilot): its update event brings us back if it differs
      }
      LOG.warning(
          "CA: cannot publish the root in ConfigMap "
              + namespace
              + "/"
              + CONFIG_MAP
              + ": "
              + (e.getStatus() != null ? e.getStatus().getMessage() : e.getMessage()));
    }
  }

  @Override
  public void close() {
    publishing.shutdownNow();
    if (configMaps != null) {
      configMaps.close();
    }
    if (namespaces != null) {
      namespaces.close();
    }
  }
}
