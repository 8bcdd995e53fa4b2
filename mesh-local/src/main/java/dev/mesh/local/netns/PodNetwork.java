package dev.mesh.local.netns;

import java.util.ArrayList;
import java.util.List;

/**
 * A node's network as ARCHITECTURE.md describes it: a hub namespace that routes, and pods joined to
 * it by their own veth with a routed /32 (no bridge, so the hub's conntrack sees both directions).
 * The hub does kube-proxy's work: DNAT from a service's cluster IP to its endpoints in PREROUTING,
 * so inside a pod the cluster IP is the original destination, as in Kubernetes.
 */
public final class PodNetwork implements AutoCloseable {
  // Every pod's gateway, on the hub's end of each veth (as Calico does).
  static final String GATEWAY = "169.254.1.1";

  private final NetworkNamespace hub;
  private final List<NetworkNamespace> pods = new ArrayList<>();

  private PodNetwork(NetworkNamespace hub) {
    this.hub = hub;
  }

  public static PodNetwork create(String name) {
    NetworkNamespace hub = NetworkNamespace.create(name + "-hub");
    try {
      hub.exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1").orThrow("ip_forward in the hub");
    } catch (RuntimeException e) {
      hub.close();
      throw e;
    }
    return new PodNetwork(hub);
  }

  public NetworkNamespace hub() {
    return hub;
  }

  /** A pod at {@code ip}: its namespace, routed through the hub. */
  public NetworkNamespace pod(String name, String ip) {
    NetworkNamespace pod = NetworkNamespace.create(name);
    pods.add(pod);
    NetworkNamespace.Link link = pod.linkTo(hub, ip + "/32", GATEWAY + "/32");
    pod.exec("ip", "route", "add", GATEWAY, "dev", link.here(), "scope", "link")
        .orThrow("route to the gateway in " + name);
    pod.exec("ip", "route", "add", "default", "via", GATEWAY, "dev", link.here())
        .orThrow("default route in " + name);
    hub.exec("ip", "route", "add", ip + "/32", "dev", link.there())
        .orThrow("route to " + name + " in the hub");
    return pod;
  }

  /** kube-proxy's rule for a service port: its cluster IP sent to one endpoint. */
  public void service(String clusterIp, int port, String endpointIp, int targetPort) {
    hub.exec(
            "iptables",
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-d",
            clusterIp + "/32",
            "-p",
            "tcp",
            "--dport",
            String.valueOf(port),
            "-j",
            "DNAT",
            "--to-destination",
            endpointIp + ":" + targetPort)
        .orThrow("DNAT for " + clusterIp + ":" + port);
  }

  @Override
  public void close() {
    for (NetworkNamespace p : pods) {
      p.close();
    }
    hub.close();
  }
}
