package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;

/** Where a route sends traffic: a service host, optionally one subset and one port of it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Destination {
  @Required public String host;
  public String subset;
  public PortSelector port;
}
