package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;

/** Selects a port of a service by number. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class PortSelector {
  public Integer number;
}
