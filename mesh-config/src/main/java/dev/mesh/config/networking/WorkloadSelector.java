package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/** Selects workloads by their pod labels. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class WorkloadSelector {
  public Map<String, String> labels;
}
