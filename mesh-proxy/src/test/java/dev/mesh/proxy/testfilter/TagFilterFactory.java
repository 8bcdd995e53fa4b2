package dev.mesh.proxy.testfilter;

import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.mesh.proxy.http.filter.HttpFilterConfig;
import dev.mesh.proxy.http.filter.HttpFilterContext;
import dev.mesh.proxy.http.filter.HttpFilterFactory;

/**
 * A filter that exists only in the tests, registered by one line in the test resources'
 * META-INF/services: if the proxy picks it up from that alone, any filter is one package and one
 * registration. Configured as a TypedStruct ({@code type.googleapis.com/test.mesh.Tag}) with a
 * {@code tag}, and optionally {@code hold_ms}; a route may override the tag.
 */
public final class TagFilterFactory implements HttpFilterFactory {
  @Override
  public String name() {
    return "test.tag";
  }

  @Override
  public String configTypeUrl() {
    return "type.googleapis.com/test.mesh.Tag";
  }

  @Override
  public Message defaultConfig() {
    return null;
  }

  @Override
  public HttpFilterConfig compile(Message config, HttpFilterContext context) {
    TagFilter.Config c = config((Struct) config);
    return () -> new TagFilter(c);
  }

  @Override
  public Object compilePerRoute(Message config) {
    return config((Struct) config);
  }

  private static TagFilter.Config config(Struct s) {
    Value tag = s.getFieldsOrDefault("tag", Value.newBuilder().setStringValue("tag").build());
    Value hold = s.getFieldsOrDefault("hold_ms", Value.newBuilder().setNumberValue(0).build());
    return new TagFilter.Config(tag.getStringValue(), (long) hold.getNumberValue());
  }
}
