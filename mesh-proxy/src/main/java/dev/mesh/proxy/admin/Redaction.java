package dev.mesh.proxy.admin;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import dev.mesh.proxy.config.EnvoyTypes;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What the admin never shows: private keys (and their passwords), wherever they sit in a config,
 * including inside typed_config. Envoy prints such sensitive DataSources as {@code [redacted]}.
 */
final class Redaction {
  private Redaction() {}

  private static final Set<String> SENSITIVE = Set.of("private_key", "password");
  private static final DataSource REDACTED =
      DataSource.newBuilder().setInlineString("[redacted]").build();

  @SuppressWarnings("unchecked")
  static <T extends Message> T redact(T message) {
    Message.Builder b = null;
    for (Map.Entry<FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
      FieldDescriptor f = e.getKey();
      if (f.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      Object next;
      if (SENSITIVE.contains(f.getName())
          && f.getMessageType().equals(DataSource.getDescriptor())
          && !f.isRepeated()) {
        next = REDACTED;
      } else if (f.isRepeated()) {
        List<Object> items = new ArrayList<>();
        for (Object o : (List<?>) e.getValue()) {
          items.add(value((Message) o));
        }
        next = items;
      } else {
        next = value((Message) e.getValue());
      }
      if (!next.equals(e.getValue())) {
        if (b == null) {
          b = message.toBuilder();
        }
        b.setField(f, next);
      }
    }
    return b == null ? message : (T) b.build();
  }

  private static Message value(Message m) {
    if (m instanceof Any any) {
      try {
        Optional<Message> inner = EnvoyTypes.unpack(any);
        if (inner.isPresent()) {
          Message redacted = redact(inner.get());
          return redacted.equals(inner.get()) ? any : Any.pack(redacted);
        }
      } catch (InvalidProtocolBufferException e) {
        return any; // it was unpacked when the config was taken; it cannot fail here
      }
      return any;
    }
    return redact(m);
  }
}
