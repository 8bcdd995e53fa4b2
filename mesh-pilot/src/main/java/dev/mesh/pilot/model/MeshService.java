package dev.mesh.pilot.model;

import java.util.List;

/**
 * A service the mesh routes to: a Kubernetes Service (hostname {@code name.ns.svc.<domain>}) or a
 * ServiceEntry host.
 *
 * @param address the cluster IP, or null for headless services and ServiceEntries without one
 * @param resolution how endpoints are found: EDS for Services and STATIC ServiceEntries, DNS, or
 *     NONE (the original destination)
 */
public record MeshService(
    String hostname,
    String name,
    String namespace,
    String address,
    List<ServicePort> ports,
    Resolution resolution,
    boolean external) {

  public enum Resolution {
    EDS,
    DNS,
    NONE
  }

  /** A port of the service; {@code targetPort} is the endpoints' port when numeric, else 0. */
  public record ServicePort(String name, int port, int targetPort, Protocol protocol) {}

  public ServicePort port(int number) {
    for (ServicePort p : ports) {
      if (p.port() == number) {
        return p;
      }
    }
    return null;
  }
}
