package dev.mesh.istioctl;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
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

  /**
   * Fails, saying why, unless the pod exists and has the sidecar whose admin is to be reached; an
   * address given by the user is taken as it is.
   */
  default void requireSidecar(String namespace, String pod) throws IOException {
    try (KubernetesClient client = CurrentCluster.client()) {
      requireSidecar(client, namespace, pod);
    } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
      throw new IOException(InstallCommand.unreachable(e));
    }
  }

  /** The pod, if it exists and runs the sidecar (istio-proxy, as a container or native sidecar). */
  static Pod requireSidecar(KubernetesClient client, String namespace, String pod)
      throws IOException {
    Pod p = client.pods().inNamespace(namespace).withName(pod).get();
    if (p == null) {
      throw new IOException("pod " + pod + "." + namespace + " not found");
    }
    if (!hasSidecar(p)) {
      throw new IOException(
          "pod " + pod + "." + namespace + " has no istio-proxy container: it is not in the mesh");
    }
    return p;
  }

  static boolean hasSidecar(Pod p) {
    var spec = p.getSpec();
    if (spec == null) {
      return false;
    }
    java.util.List<io.fabric8.kubernetes.api.model.Container> all = new java.util.ArrayList<>();
    if (spec.getContainers() != null) {
      all.addAll(spec.getContainers());
    }
    if (spec.getInitContainers() != null) {
      all.addAll(spec.getInitContainers());
    }
    return all.stream().anyMatch(c -> SIDECAR.equals(c.getName()));
  }

  /** The sidecar's container name, Istio's. */
  String SIDECAR = "istio-proxy";

  /** A forward at {@code base}, and what closing it takes. */
  static Forward forward(URI base, Runnable onClose) {
    return new Forward() {
      @Override
      public URI base() {
        return base;
      }

      @Override
      public void close() {
        onClose.run();
      }
    };
  }

  /** An address given by the user: nothing to forward. */
  static PortForwarder direct(URI base) {
    return new PortForwarder() {
      @Override
      public Forward open(String namespace, String pod, int port) {
        return forward(base, () -> {});
      }

      @Override
      public String pilotPod() {
        return "";
      }

      @Override
      public void requireSidecar(String namespace, String pod) {
        // the user named the admin address: nothing to look up
      }
    };
  }

  /**
   * The cluster of the current kubeconfig: the local mesh's relays when KUBECONFIG is a local
   * cluster's (what `meshctl demo` prints), the API's port-forward otherwise.
   */
  static PortForwarder forCurrentCluster() {
    String env = System.getenv("KUBECONFIG");
    if (env != null && !env.isBlank()) {
      java.nio.file.Path first = java.nio.file.Path.of(env.split(java.io.File.pathSeparator)[0]);
      var state = dev.mesh.local.cluster.LocalCluster.stateOf(first);
      if (state.isPresent()) {
        return local(state.get());
      }
    }
    return kubernetes();
  }

  /**
   * A local mesh's pods through their relay sockets; its pilot, which runs outside pods, directly.
   */
  static PortForwarder local(java.nio.file.Path state) {
    return new PortForwarder() {
      @Override
      public Forward open(String namespace, String pod, int port) throws IOException {
        if (pod.equals(LOCAL_PILOT)) {
          java.nio.file.Path url = state.resolve(dev.mesh.local.mesh.LocalMesh.PILOT_URL);
          if (!java.nio.file.Files.exists(url)) {
            throw new IOException("this local cluster runs no pilot (" + url + " is missing)");
          }
          return direct(URI.create(java.nio.file.Files.readString(url).strip()))
              .open(namespace, pod, port);
        }
        var relay =
            new dev.mesh.local.cluster.PortRelay.Forward(
                dev.mesh.local.cluster.LocalCluster.relaySocket(state, namespace, pod), port);
        return forward(URI.create("http://127.0.0.1:" + relay.localPort()), relay::close);
      }

      @Override
      public String pilotPod() {
        return LOCAL_PILOT;
      }
    };
  }

  /** The local mesh's pilot, which is a process on the machine rather than a pod. */
  String LOCAL_PILOT = "mesh-pilot (local)";

  /** The cluster of the current kubeconfig, through the API's port-forward. */
  static PortForwarder kubernetes() {
    return new PortForwarder() {
      private final KubernetesClient client = CurrentCluster.client();

      @Override
      public void requireSidecar(String namespace, String pod) throws IOException {
        // the client is closed with the forward; there is none when the pod is not there
        try {
          PortForwarder.requireSidecar(client, namespace, pod);
        } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
          client.close();
          throw new IOException(InstallCommand.unreachable(e));
        } catch (IOException e) {
          client.close();
          throw e;
        }
      }

      @Override
      public Forward open(String namespace, String pod, int port) throws IOException {
        LocalPortForward f = client.pods().inNamespace(namespace).withName(pod).portForward(port);
        return forward(
            URI.create("http://127.0.0.1:" + f.getLocalPort()),
            () -> {
              try {
                f.close();
              } catch (IOException e) {
                // the forward is gone either way
              }
              client.close();
            });
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
