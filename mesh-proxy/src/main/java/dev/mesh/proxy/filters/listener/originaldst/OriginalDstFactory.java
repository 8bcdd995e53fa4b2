package dev.mesh.proxy.filters.listener.originaldst;

import com.google.protobuf.Message;
import dev.mesh.proxy.network.ListenerFilter;
import dev.mesh.proxy.network.ListenerFilterFactory;
import io.envoyproxy.envoy.extensions.filters.listener.original_dst.v3.OriginalDst;

/** envoy.filters.listener.original_dst. */
public final class OriginalDstFactory implements ListenerFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.listener.original_dst";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + OriginalDst.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return OriginalDst.getDefaultInstance();
  }

  @Override
  public ListenerFilter compile(Message config) {
    return new OriginalDstFilter();
  }
}
