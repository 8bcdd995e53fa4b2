package dev.mesh.config.security;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/** Selects the workloads a security policy applies to, by pod labels. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class WorkloadLabelSelector {
  public Map<String, String> matchLabels;
}
