package dev.mesh.proxy.filters.listener.tlsinspector;

import com.google.protobuf.Message;
import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.network.ListenerFilterFactory;
import io.envoyproxy.envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector;

/** envoy.filters.listener.tls_inspector. */
public final class TlsInspectorFactory implements ListenerFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.listener.tls_inspector";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + TlsInspector.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return TlsInspector.getDefaultInstance();
  }

  @Override
  public ListenerFilter compile(Message config) {
    return new dev.mesh.proxy.filters.listener.tlsinspector.TlsInspector();
  }
}
