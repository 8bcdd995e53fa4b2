package dev.mesh.proxy.network;

import com.google.protobuf.Message;

/**
 * A network filter extension, found by {@link java.util.ServiceLoader} (a line in {@code
 * META-INF/services/dev.mesh.proxy.network.NetworkFilterFactory}): its name, its config's type (or,
 * for an extension configured as a TypedStruct, the TypedStruct's type_url), the fields of its
 * config it implements, and how it compiles.
 */
public interface NetworkFilterFactory {
  String name();

  String configTypeUrl();

  /** The config proto; null for a TypedStruct extension (its config is then the Struct value). */
  Message defaultConfig();

  /** Its config's implemented fields, in SupportedFields' form. */
  default String supportedFields() {
    return "";
  }

  /** Whether it ends a filter chain (tcp_proxy, http_connection_manager). */
  boolean terminal();

  NetworkFilter compile(Message config, NetworkFilterContext context);
}
