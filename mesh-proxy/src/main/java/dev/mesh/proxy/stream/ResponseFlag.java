package dev.mesh.proxy.stream;

/**
 * Envoy's response flags, in the order Envoy prints them ({@code %RESPONSE_FLAGS%}, the
 * response_flags label of Istio's metrics): the order of Envoy's own enum, whatever order they were
 * set in.
 */
public enum ResponseFlag {
  FAILED_LOCAL_HEALTH_CHECK("LH"),
  NO_HEALTHY_UPSTREAM("UH"),
  UPSTREAM_REQUEST_TIMEOUT("UT"),
  LOCAL_RESET("LR"),
  UPSTREAM_REMOTE_RESET("UR"),
  UPSTREAM_CONNECTION_FAILURE("UF"),
  UPSTREAM_CONNECTION_TERMINATION("UC"),
  UPSTREAM_OVERFLOW("UO"),
  NO_ROUTE_FOUND("NR"),
  DELAY_INJECTED("DI"),
  FAULT_INJECTED("FI"),
  RATE_LIMITED("RL"),
  UNAUTHORIZED_EXTERNAL_SERVICE("UAEX"),
  RATE_LIMIT_SERVICE_ERROR("RLSE"),
  DOWNSTREAM_CONNECTION_TERMINATION("DC"),
  UPSTREAM_RETRY_LIMIT_EXCEEDED("URX"),
  STREAM_IDLE_TIMEOUT("SI"),
  INVALID_ENVOY_REQUEST_HEADERS("IH"),
  DOWNSTREAM_PROTOCOL_ERROR("DPE"),
  UPSTREAM_MAX_STREAM_DURATION_REACHED("UMSDR"),
  RESPONSE_FROM_CACHE_FILTER("RFCF"),
  NO_FILTER_CONFIG_FOUND("NFCF"),
  DURATION_TIMEOUT("DT"),
  UPSTREAM_PROTOCOL_ERROR("UPE"),
  NO_CLUSTER_FOUND("NC"),
  OVERLOAD_MANAGER("OM"),
  DNS_RESOLUTION_FAILED("DF"),
  DROP_OVERLOAD("DO"),
  DOWNSTREAM_REMOTE_RESET("DR");

  private final String code;

  ResponseFlag(String code) {
    this.code = code;
  }

  /** Envoy's short code, e.g. {@code UF}. */
  public String code() {
    return code;
  }

  /** The flags of a bit set (bit {@code ordinal()}) as Envoy prints them: "UF,URX", or "". */
  public static String toShortString(int bits) {
    if (bits == 0) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    for (ResponseFlag f : VALUES) {
      if ((bits & (1 << f.ordinal())) != 0) {
        if (b.length() > 0) {
          b.append(',');
        }
        b.append(f.code);
      }
    }
    return b.toString();
  }

  private static final ResponseFlag[] VALUES = values();
}
