package dev.mesh.proxy.istio;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.mesh.api.IstioLabels;
import java.util.Base64;

/**
 * A workload as Istio's telemetry names it, read from node metadata (the agent puts NAME,
 * NAMESPACE, LABELS, WORKLOAD_NAME, CLUSTER_ID, ... there from ISTIO_META_* and the pod). Values
 * that are not known are "unknown", as in Istio's metrics.
 */
public record Workload(
    String name,
    String namespace,
    String app,
    String version,
    String canonicalService,
    String canonicalRevision,
    String cluster) {

  public static final String UNKNOWN = "unknown";
  public static final Workload UNKNOWN_PEER =
      new Workload(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN);

  /** The workload described by node metadata. */
  public static Workload of(Struct metadata) {
    Struct labels =
        metadata.getFieldsOrDefault("LABELS", Value.getDefaultInstance()).getStructValue();
    String app = first(labels, IstioLabels.APP, IstioLabels.K8S_APP_NAME);
    String version = first(labels, IstioLabels.VERSION, IstioLabels.K8S_APP_VERSION);
    String workload = text(metadata, "WORKLOAD_NAME");
    String canonicalService = first(labels, IstioLabels.CANONICAL_NAME);
    if (canonicalService.equals(UNKNOWN)) {
      canonicalService = !app.equals(UNKNOWN) ? app : workload;
    }
    String canonicalRevision = first(labels, IstioLabels.CANONICAL_REVISION);
    if (canonicalRevision.equals(UNKNOWN)) {
      canonicalRevision = !version.equals(UNKNOWN) ? version : "latest";
    }
    return new Workload(
        workload,
        text(metadata, "NAMESPACE"),
        app,
        version,
        canonicalService,
        canonicalRevision,
        text(metadata, "CLUSTER_ID"));
  }

  /** The workload a peer's x-envoy-peer-metadata header describes, or UNKNOWN_PEER. */
  public static Workload fromHeader(String base64) {
    if (base64 == null || base64.isEmpty()) {
      return UNKNOWN_PEER;
    }
    try {
      return of(Struct.parseFrom(Base64.getDecoder().decode(base64)));
    } catch (IllegalArgumentException | InvalidProtocolBufferException e) {
      return UNKNOWN_PEER; // a peer's garbled header costs it its labels, nothing more
    }
  }

  private static String first(Struct s, String... keys) {
    for (String k : keys) {
      Value v = s.getFieldsOrDefault(k, null);
      if (v != null && v.hasStringValue() && !v.getStringValue().isEmpty()) {
        return v.getStringValue();
      }
    }
    return UNKNOWN;
  }

  private static String text(Struct s, String key) {
    return first(s, key);
  }
}
