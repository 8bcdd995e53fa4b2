package dev.mesh.proxy.network;

import com.google.protobuf.Message;

/**
 * A listener filter extension, found by {@link java.util.ServiceLoader} (a line in {@code
 * META-INF/services/dev.mesh.proxy.network.ListenerFilterFactory}).
 */
public interface ListenerFilterFactory {
  String name();

  String configTypeUrl();

  Message defaultConfig();

  default String supportedFields() {
    return "";
  }

  ListenerFilter compile(Message config);
}
