package dev.mesh.proxy.http.filter;

import com.google.protobuf.Message;
import dev.mesh.proxy.config.ConfigRejectedException;

/**
 * An HTTP filter extension: one per filter type, found by {@link java.util.ServiceLoader} (a line
 * in {@code META-INF/services/dev.mesh.proxy.http.filter.HttpFilterFactory}), so a new filter is
 * its package and that registration. The factory compiles a filter's config once, when a listener
 * or route table is accepted; the compiled config makes one filter per stream.
 */
public interface HttpFilterFactory {
  /** Envoy's name for the filter ({@code envoy.filters.http.fault}), which resolves it by name. */
  String name();

  /**
   * The type URL of its config: the proto's ({@code type.googleapis.com/envoy...HTTPFault}), or,
   * for an extension configured as a TypedStruct (Istio's), the TypedStruct's own type_url.
   */
  String configTypeUrl();

  /**
   * The config proto, for parsing typed_config and checking its fields; null for a TypedStruct
   * extension, whose config is the TypedStruct's value (a Struct).
   */
  Message defaultConfig();

  /**
   * The proto of its typed_per_filter_config when that is another type than its config
   * (RBACPerRoute for RBAC); null when the per-route config is the config's type or there is none.
   */
  default Message perRouteConfig() {
    return null;
  }

  /**
   * The fields of its config messages it implements, in {@code SupportedFields}' form: lines of
   * "full.message.Name: field field ...". A config setting any other field is refused.
   */
  default String supportedFields() {
    return "";
  }

  /** Whether it ends the chain (the router): the last filter must be, and only the last. */
  default boolean terminal() {
    return false;
  }

  /** Compiles the filter's config; throws ConfigRejectedException naming what is wrong. */
  HttpFilterConfig compile(Message config, HttpFilterContext context);

  /** Compiles a typed_per_filter_config for it; by default it takes none. */
  default Object compilePerRoute(Message config) {
    throw new ConfigRejectedException(
        "typed_per_filter_config for " + name() + ": the filter takes no per-route config");
  }
}
