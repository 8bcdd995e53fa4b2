package dev.mesh.proxy.router;

import com.google.protobuf.Message;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;

/** envoy.filters.http.router: the terminal filter. None of its own fields is implemented yet. */
public final class RouterFactory implements HttpFilterFactory {
  @Override
  public String name() {
    return "envoy.filters.http.router";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/" + Router.getDescriptor().getFullName();
  }

  @Override
  public Message defaultConfig() {
    return Router.getDefaultInstance();
  }

  @Override
  public boolean terminal() {
    return true;
  }

  @Override
  public HttpFilterConfig compile(Message config, HttpFilterContext context) {
    RouterConfig router = new RouterConfig(context);
    return () -> new RouterFilter(router);
  }
}
