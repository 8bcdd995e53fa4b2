package dev.mesh.injector.namespaces;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Namespaces' labels from an informer's cache, so that a review is answered from memory: the API
 * server waits at most 10 s for the webhook, and its failurePolicy is Fail, so a synchronous call
 * per review would turn an unreachable API server into refused pods. Until the cache has synced, or
 * for a namespace it does not hold, the labels are unknown and the webhook's namespaceSelector,
 * which the API server already applied, stands.
 */
public final class NamespaceLabels implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(NamespaceLabels.class.getName());

  private final SharedIndexInformer<Namespace> informer;

  private NamespaceLabels(SharedIndexInformer<Namespace> informer) {
    this.informer = informer;
  }

  /** Starts watching namespaces; returns at once, whether the API server answers or not. */
  public static NamespaceLabels watch(KubernetesClient client) {
    SharedIndexInformer<Namespace> informer = client.namespaces().runnableInformer(0);
    informer
        .start()
        .whenComplete(
            (ok, failed) -> {
              if (failed == null) {
                LOG.info(
                    "namespace cache synced: " + informer.getStore().list().size() + " namespaces");
              } else {
                LOG.warning(
                    "namespace cache not synced: "
                        + failed.getMessage()
                        + " (reviews go by the webhook's selectors until it is)");
              }
            });
    return new NamespaceLabels(informer);
  }

  /** The namespace's labels as the cache holds them; empty when it does not know them. */
  public Optional<Map<String, String>> of(String namespace) {
    if (!informer.hasSynced()) {
      return Optional.empty();
    }
    Namespace ns = informer.getStore().getByKey(namespace);
    if (ns == null) {
      return Optional.empty();
    }
    Map<String, String> labels = ns.getMetadata().getLabels();
    return Optional.of(labels == null ? Map.of() : labels);
  }

  @Override
  public void close() {
    informer.close();
  }
}
