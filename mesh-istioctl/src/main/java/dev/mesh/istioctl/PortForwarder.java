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
      private final KubernetesClient client = new KubernetesClientBuilder().build();

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
