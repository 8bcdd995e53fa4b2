package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;

/** A percentage in the range [0.0, 100.0]. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Percent {
  public Double value;
}
