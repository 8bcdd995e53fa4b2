package dev.mesh.proxy.route;

import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;

/** Header additions and removals, as Envoy applies them at route, virtual host and config level. */
public record HeaderMutations(List<HeaderValueOption> add, List<String> remove) {

  public static final HeaderMutations NONE = new HeaderMutations(List.of(), List.of());

  public void apply(HttpHeaders headers) {
    for (String name : remove) {
      headers.remove(name);
    }
    for (HeaderValueOption o : add) {
      String key = o.getHeader().getKey();
      String value = o.getHeader().getValue();
      if (value.isEmpty() && !o.getKeepEmptyValue()) {
        continue;
      }
      boolean append =
          o.hasAppend()
              ? o.getAppend().getValue()
              : o.getAppendAction() == HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD;
      switch (o.getAppendAction()) {
        case ADD_IF_ABSENT -> {
          if (!headers.contains(key)) {
            headers.add(key, value);
          }
        }
        case OVERWRITE_IF_EXISTS -> {
          if (headers.contains(key)) {
            headers.set(key, value);
          }
        }
        case OVERWRITE_IF_EXISTS_OR_ADD -> headers.set(key, value);
        default -> {
          if (append) {
            headers.add(key, value);
          } else {
            headers.set(key, value);
          }
        }
      }
    }
  }
}
