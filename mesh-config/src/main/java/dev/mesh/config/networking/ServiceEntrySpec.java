package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;
import java.util.List;
import java.util.Map;

/** The spec of a ServiceEntry, with Istio's field names and shapes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ServiceEntrySpec {
  @Required public List<String> hosts;
  public List<String> addresses;
  public List<Port> ports;
  public Location location;
  public Resolution resolution;
  public List<WorkloadEntry> endpoints;
  public WorkloadSelector workloadSelector;
  public List<String> exportTo;
  public List<String> subjectAltNames;

  public enum Location {
    MESH_EXTERNAL,
    MESH_INTERNAL
  }

  public enum Resolution {
    NONE,
    STATIC,
    DNS,
    DNS_ROUND_ROBIN
  }

  /** An endpoint of the entry: an address (IP, host name or unix:// path) with its ports. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class WorkloadEntry {
    public String address;
    public Map<String, Integer> ports;
    public Map<String, String> labels;
    public String network;
    public String locality;
    public Integer weight;
    public String serviceAccount;
  }
}
