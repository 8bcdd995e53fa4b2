package dev.mesh.pilot.model;

import java.util.Map;

/** One endpoint of a service port: the pod's (or ServiceEntry endpoint's) address and labels. */
public record Instance(String address, int port, Map<String, String> labels, String podName) {
  /** Whether the instance carries every one of the given labels (a subset's selector). */
  public boolean matches(Map<String, String> selector) {
    return dev.mesh.config.LabelSelectors.matches(selector, labels);
  }
}
