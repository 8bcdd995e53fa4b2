package dev.mesh.istioctl;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.LocalPortForward;
import java.io.IOException;
import java.net.URI;

/**
 * How meshctl reaches a port of a pod: fabric8's port-forward in a cluster (it reaches ports bound
 * to the pod's localhost, such as the proxy's admin), or an address given on the command line.
 */
interface PortForwarder {
  /** A forward to a pod's port; close it when done. */
  interface Forward extends AutoCloseable {
    URI base();

    @Override
    void close();
  }

  Forward open(String namespace, String pod, int port) throws IOException;

  /** Pilot's pod: the first ready one labelled app=mesh-pilot in mesh-system. */
  String pilotPod() throws IOException;

  /** An address given by the user: nothing to forward. */
  static PortForwarder direct(URI base) {
    return new PortForwarder() {
      @Override
      public Forward open(String namespace, String pod, int port) {
        return new Forward() {
          @Override
          public URI base() {
            return base;
          }

          @Override
          public void close() {}
        };
      }

      @Override
      public String pilotPod() {
        return "";
      }
    };
  }

  /** The cluster of the current kubeconfig. */
  static PortForwarder kubernetes() {
    return new PortForwarder() {
      private final KubernetesClient client = new KubernetesClientBuilder().build();

      @Override
      public Forward open(String namespace, String pod, int port) throws IOException {
        LocalPortForward f = client.pods().inNamespace(namespace).withName(pod).portForward(port);
        URI base = URI.create("http://127.0.0.1:" + f.getLocalPort());
        return new Forward() {
          @Override
          public URI base() {
            return base;
          }

          @Override
          public void close() {
            try {
              f.close();
            } catch (IOException e) {
              // the forward is gone either way
            }
            client.close();
          }
        };
      }

      @Override
      public String pilotPod() throws IOException {
        for (Pod p :
            client
                .pods()
                .inNamespace("mesh-system")
                .withLabel("app", "mesh-pilot")
                .list()
                .getItems()) {
          if (p.getStatus() != null && "Running".equals(p.getStatus().getPhase())) {
            return p.getMetadata().getName();
          }
        }
        throw new IOException("no running pilot pod (app=mesh-pilot) in mesh-system");
      }
    };
  }
}
