package dev.mesh.config;

import com.fasterxml.jackson.annotation.JsonAnyGetter;
import com.fasterxml.jackson.annotation.JsonAnySetter;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The status Istio's controllers write (conditions, validation messages). The mesh does not
 * interpret it; it is kept as it is, so that reading and writing a resource never loses it.
 */
@PreserveUnknownFields
public class IstioStatus {
  private final Map<String, Object> fields = new LinkedHashMap<>();

  @JsonAnyGetter
  public Map<String, Object> fields() {
    return fields;
  }

  @JsonAnySetter
  public void set(String name, Object value) {
    fields.put(name, value);
  }
}
