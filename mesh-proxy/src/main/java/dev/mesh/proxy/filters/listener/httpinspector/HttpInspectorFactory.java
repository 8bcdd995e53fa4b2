package dev.mesh.proxy.filters.listener.httpinspector;

import com.google.protobuf.Message;
import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.network.ListenerFilterFactory;
import io.envoyproxy.envoy.extensions.filters.listener.http_inspector.v3.HttpInspector;

/** envoy.filters.listener.http_inspector. */
public final class HttpInspectorFactory implements ListenerFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.listener.http_inspector";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + HttpInspector.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return HttpInspector.getDefaultInstance();
  }

  @Override
  public ListenerFilter compile(Message config) {
    return new dev.mesh.proxy.filters.listener.httpinspector.HttpInspector();
  }
}
