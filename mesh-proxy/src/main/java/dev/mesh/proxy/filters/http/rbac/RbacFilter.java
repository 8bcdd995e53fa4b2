package dev.mesh.proxy.filters.http.rbac;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.mesh.proxy.filters.common.rbac.RbacEngine;
import dev.mesh.proxy.filters.common.rbac.RbacRequest;
import dev.mesh.proxy.filters.common.rbac.RbacStats;
import dev.mesh.proxy.http.filter.DecoderFilterCallbacks;
import dev.mesh.proxy.http.filter.FilterHeadersStatus;
import dev.mesh.proxy.http.filter.StreamDecoderFilter;
import dev.mesh.proxy.route.RequestView;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Envoy's HTTP RBAC filter on one stream: the shadow rules are evaluated and recorded (stats and
 * dynamic metadata), then the enforced rules decide; a denied request gets the 403 local reply
 * {@code RBAC: access denied}, through the encoder filters like any local reply.
 */
final class RbacFilter implements StreamDecoderFilter {
  static final String NAMESPACE = "envoy.filters.http.rbac";

  /** The filter's (or a route's) engines; either may be null (not configured). */
  record Rules(
      RbacEngine enforced,
      RbacEngine shadow,
      String rulesStatPrefix,
      String shadowRulesStatPrefix) {}

  private final Rules filterLevel;
  private final RbacStats stats;
  private DecoderFilterCallbacks callbacks;

  RbacFilter(Rules filterLevel, RbacStats stats) {
    this.filterLevel = filterLevel;
    this.stats = stats;
  }

  @Override
  public void setDecoderFilterCallbacks(DecoderFilterCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public FilterHeadersStatus decodeHeaders(HttpRequest headers, boolean endStream) {
    Rules rules = callbacks.perFilterConfig() instanceof Rules r ? r : filterLevel;
    if (rules.enforced() == null && rules.shadow() == null) {
      return FilterHeadersStatus.CONTINUE;
    }
    RbacRequest request =
        RbacRequest.http(
            callbacks.connection(),
            RequestView.of(
                headers.headers().get(HttpHeaderNames.HOST, ""),
                headers.method().name(),
                headers.uri(),
                headers.headers()),
            callbacks.streamInfo());
    Struct.Builder metadata = Struct.newBuilder();
    if (rules.shadow() != null) {
      RbacEngine.Result r = rules.shadow().evaluate(request, true);
      stats.count(r, true);
      record(metadata, rules.shadowRulesStatPrefix() + "shadow_", r);
    }
    if (rules.enforced() == null) {
      callbacks.streamInfo().setDynamicMetadata(NAMESPACE, metadata.build());
      return FilterHeadersStatus.CONTINUE;
    }
    RbacEngine.Result r = rules.enforced().evaluate(request, false);
    stats.count(r, false);
    record(metadata, rules.rulesStatPrefix() + "enforced_", r);
    callbacks.streamInfo().setDynamicMetadata(NAMESPACE, metadata.build());
    if (r.allowed()) {
      return FilterHeadersStatus.CONTINUE;
    }
    callbacks.sendLocalReply(
        403, "RBAC: access denied", null, null, RbacEngine.deniedDetails(r.policy()));
    return FilterHeadersStatus.STOP_ITERATION;
  }

  /** Envoy's {@code <prefix>effective_policy_id} and {@code <prefix>engine_result}. */
  private static void record(Struct.Builder metadata, String prefix, RbacEngine.Result r) {
    if (r.policy() != null) {
      metadata.putFields(
          prefix + "effective_policy_id", Value.newBuilder().setStringValue(r.policy()).build());
    }
    metadata.putFields(
        prefix + "engine_result",
        Value.newBuilder().setStringValue(r.allowed() ? "allowed" : "denied").build());
  }
}
