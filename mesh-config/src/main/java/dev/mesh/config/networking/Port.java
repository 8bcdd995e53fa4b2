package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;

/**
 * A port as Gateway servers, ServiceEntries and Sidecar listeners declare it. The protocol is one
 * of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP or TLS.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Port {
  @Required public Integer number;
  public String protocol;
  public String name;
  public Integer targetPort;
}
