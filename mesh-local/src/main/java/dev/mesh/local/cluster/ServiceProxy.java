package dev.mesh.local.cluster;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * kube-proxy against a real API server, as {@code system:kube-proxy}: it watches Services and
 * EndpointSlices and, shortly after each change (changes close together are applied at once), hands
 * the {@link ServiceTable} they make to the node.
 */
final class ServiceProxy implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ServiceProxy.class.getName());
  private static final long SETTLE_MS = 50;

  private final SharedIndexInformer<Service> services;
  private final SharedIndexInformer<EndpointSlice> slices;
  private final ScheduledExecutorService sync =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "kube-proxy");
            t.setDaemon(true);
            return t;
          });
  private final AtomicBoolean pending = new AtomicBoolean();
  private final Consumer<ServiceTable> apply;

  ServiceProxy(KubernetesClient client, Consumer<ServiceTable> apply) {
    this.apply = apply;
    this.services = client.services().inAnyNamespace().inform(changes(), 0);
    this.slices = client.discovery().v1().endpointSlices().inAnyNamespace().inform(changes(), 0);
    changed();
  }

  private <T> ResourceEventHandler<T> changes() {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T o) {
        changed();
      }

      @Override
      public void onUpdate(T before, T after) {
        changed();
      }

      @Override
      public void onDelete(T o, boolean finalStateUnknown) {
        changed();
      }
    };
  }

  private void changed() {
    if (pending.compareAndSet(false, true)) {
      sync.schedule(this::resync, SETTLE_MS, TimeUnit.MILLISECONDS);
    }
  }

  private void resync() {
    pending.set(false);
    if (services == null || slices == null) {
      changed(); // an event from before the constructor finished
      return;
    }
    try {
      apply.accept(ServiceTable.of(services.getStore().list(), slices.getStore().list()));
    } catch (RuntimeException e) {
      LOG.warning("kube-proxy: rules not applied: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    services.close();
    slices.close();
    sync.shutdownNow();
  }
}
