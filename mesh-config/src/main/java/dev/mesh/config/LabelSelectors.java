package dev.mesh.config;

import java.util.Map;

/** Istio's workload selectors ({@code matchLabels}, a subset's labels) against a pod's labels. */
public final class LabelSelectors {
  private LabelSelectors() {}

  /**
   * Whether {@code labels} carry every one of {@code selector}'s (equality only, as Istio's
   * matchLabels); a null or empty selector picks every workload, null labels are none.
   */
  public static boolean matches(Map<String, String> selector, Map<String, String> labels) {
    if (selector == null) {
      return true;
    }
    for (var e : selector.entrySet()) {
      if (labels == null || !e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }
}
