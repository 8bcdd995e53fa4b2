package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** Header manipulation for requests and responses. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class Headers {
  public HeaderOperations request;
  public HeaderOperations response;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HeaderOperations {
    public Map<String, String> set;
    public Map<String, String> add;
    public List<String> remove;
  }
}
