package dev.mesh.proxy.extension;

import com.github.xds.type.v3.TypedStruct;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.http.filter.HttpFilterFactory;
import dev.mesh.proxy.network.ListenerFilterFactory;
import dev.mesh.proxy.network.NetworkFilterFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.Function;

/**
 * The proxy's extensions: every HTTP, network and listener filter factory on the class path ({@link
 * ServiceLoader}), by config type and by name. They also feed the config types the loader parses
 * and the fields SupportedFields accepts, so a new filter is its package and one registration line.
 */
public final class Extensions {
  private Extensions() {}

  /** A factory and its config, unpacked from a typed_config. */
  public record Typed<F>(F factory, Message config) {}

  private static final Registry<HttpFilterFactory> HTTP =
      new Registry<>(
          load(HttpFilterFactory.class),
          HttpFilterFactory::configTypeUrl,
          HttpFilterFactory::name,
          HttpFilterFactory::defaultConfig,
          HttpFilterFactory::perRouteConfig);
  private static final Registry<NetworkFilterFactory> NETWORK =
      new Registry<>(
          load(NetworkFilterFactory.class),
          NetworkFilterFactory::configTypeUrl,
          NetworkFilterFactory::name,
          NetworkFilterFactory::defaultConfig,
          f -> null);
  private static final Registry<ListenerFilterFactory> LISTENER =
      new Registry<>(
          load(ListenerFilterFactory.class),
          ListenerFilterFactory::configTypeUrl,
          ListenerFilterFactory::name,
          ListenerFilterFactory::defaultConfig,
          f -> null);

  /** The HTTP filter factory for a typed_config, and the config unpacked for it. */
  public static Typed<HttpFilterFactory> httpFilter(Any typed, String at) {
    return HTTP.resolve(typed, at);
  }

  public static HttpFilterFactory httpFilterNamed(String name) {
    return HTTP.byName.get(name);
  }

  public static Typed<NetworkFilterFactory> networkFilter(Any typed, String at) {
    return NETWORK.resolve(typed, at);
  }

  public static NetworkFilterFactory networkFilterNamed(String name) {
    return NETWORK.byName.get(name);
  }

  public static Typed<ListenerFilterFactory> listenerFilter(Any typed, String at) {
    return LISTENER.resolve(typed, at);
  }

  public static ListenerFilterFactory listenerFilterNamed(String name) {
    return LISTENER.byName.get(name);
  }

  /** The config protos of every extension, for parsing typed_config. */
  public static List<Message> configTypes() {
    List<Message> out = new ArrayList<>();
    for (Registry<?> r : List.of(HTTP, NETWORK, LISTENER)) {
      out.addAll(r.configs.values());
    }
    return out;
  }

  /** Every extension's implemented config fields, in SupportedFields' table form. */
  public static String supportedFields() {
    StringBuilder b = new StringBuilder();
    HTTP.all.forEach(f -> b.append(f.supportedFields()).append('\n'));
    NETWORK.all.forEach(f -> b.append(f.supportedFields()).append('\n'));
    LISTENER.all.forEach(f -> b.append(f.supportedFields()).append('\n'));
    return b.toString();
  }

  private static <F> List<F> load(Class<F> type) {
    List<F> out = new ArrayList<>();
    ServiceLoader.load(type, Extensions.class.getClassLoader()).forEach(out::add);
    return List.copyOf(out);
  }

  /**
   * The factories of one kind, by the type URL of their config (and of their per-route config,
   * where it has its own type) and by name.
   */
  private static final class Registry<F> {
    final List<F> all;
    final Map<String, F> byType = new HashMap<>();
    final Map<String, F> byName = new HashMap<>();
    final Map<String, Message> configs = new HashMap<>();

    Registry(
        List<F> all,
        Function<F, String> typeUrl,
        Function<F, String> name,
        Function<F, Message> defaultConfig,
        Function<F, Message> perRouteConfig) {
      this.all = all;
      for (F f : all) {
        register(typeUrl.apply(f), f, defaultConfig.apply(f));
        Message perRoute = perRouteConfig.apply(f);
        if (perRoute != null) {
          register(
              "type.googleapis.com/" + perRoute.getDescriptorForType().getFullName(), f, perRoute);
        }
        byName.putIfAbsent(name.apply(f), f);
      }
    }

    private void register(String typeUrl, F f, Message config) {
      if (byType.putIfAbsent(typeUrl, f) != null) {
        throw new IllegalStateException(
            "two extensions for " + typeUrl + ": " + byType.get(typeUrl) + ", " + f);
      }
      if (config != null) {
        configs.put(typeUrl, config);
      }
    }

    Typed<F> resolve(Any typed, String at) {
      try {
        if (typed.is(TypedStruct.class)) {
          TypedStruct ts = typed.unpack(TypedStruct.class);
          F f = byType.get(ts.getTypeUrl());
          if (f == null) {
            throw new ConfigRejectedException(
                at + ": extension " + ts.getTypeUrl() + " is not supported by mesh-proxy");
          }
          Message proto = configs.get(ts.getTypeUrl());
          if (proto == null) {
            return new Typed<>(f, ts.getValue());
          }
          // Envoy takes any extension's config as a TypedStruct: its value is the config in JSON.
          Message.Builder b = proto.newBuilderForType();
          JsonFormat.parser().merge(JsonFormat.printer().print(ts.getValue()), b);
          return new Typed<>(f, b.build());
        }
        F f = byType.get(typed.getTypeUrl());
        Message proto = configs.get(typed.getTypeUrl());
        if (proto == null) {
          throw new ConfigRejectedException(
              at + ": extension " + typed.getTypeUrl() + " is not supported by mesh-proxy");
        }
        return new Typed<>(f, proto.getParserForType().parseFrom(typed.getValue()));
      } catch (InvalidProtocolBufferException e) {
        throw new ConfigRejectedException(at + ": cannot decode " + typed.getTypeUrl(), e);
      }
    }
  }
}
