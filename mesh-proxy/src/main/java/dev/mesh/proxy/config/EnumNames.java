package dev.mesh.proxy.config;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.util.List;
import java.util.Map;

/**
 * Envoy reads enum names in any case ({@code type: strict_dns}, {@code lb_policy: round_robin}, as
 * its own examples write them); protobuf's JSON parser reads them exactly. This puts each enum name
 * of a parsed YAML tree in its canonical case, walking the tree along the config's schema (through
 * Any by its {@code @type}), before the parser sees it.
 */
final class EnumNames {
  private EnumNames() {}

  static void canonicalize(Object tree, Descriptor type) {
    if (!(tree instanceof Map<?, ?> raw) || type.getFullName().startsWith("google.protobuf.")) {
      return; // Struct, Value, Duration, wrappers: values, not schema
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> node = (Map<String, Object>) raw;
    if (type.getFullName().equals("google.protobuf.Any")) {
      return;
    }
    for (Map.Entry<String, Object> e : node.entrySet()) {
      FieldDescriptor field = field(type, e.getKey());
      if (field == null) {
        continue; // the parser names it as unknown
      }
      if (field.isMapField()) {
        FieldDescriptor value = field.getMessageType().findFieldByName("value");
        if (e.getValue() instanceof Map<?, ?> entries) {
          @SuppressWarnings("unchecked")
          Map<String, Object> m = (Map<String, Object>) entries;
          m.replaceAll((k, v) -> one(v, value));
        }
      } else if (field.isRepeated() && e.getValue() instanceof List<?> items) {
        @SuppressWarnings("unchecked")
        List<Object> list = (List<Object>) items;
        list.replaceAll(v -> one(v, field));
      } else {
        e.setValue(one(e.getValue(), field));
      }
    }
  }

  /** One value of a field: an enum name canonicalized, a message walked. */
  private static Object one(Object value, FieldDescriptor field) {
    if (field.getJavaType() == FieldDescriptor.JavaType.ENUM && value instanceof String name) {
      for (EnumValueDescriptor v : field.getEnumType().getValues()) {
        if (v.getName().equalsIgnoreCase(name)) {
          return v.getName();
        }
      }
      return value;
    }
    if (field.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
      Descriptor type = field.getMessageType();
      if (type.getFullName().equals("google.protobuf.Any") && value instanceof Map<?, ?> any) {
        Object url = any.get("@type");
        if (url instanceof String u) {
          try {
            Descriptor packed = EnvoyTypes.REGISTRY.getDescriptorForTypeUrl(u);
            if (packed != null) {
              canonicalize(value, packed);
            }
          } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            // A malformed type URL: the parser says so.
          }
        }
      } else {
        canonicalize(value, type);
      }
    }
    return value;
  }

  private static FieldDescriptor field(Descriptor type, String key) {
    FieldDescriptor f = type.findFieldByName(key);
    if (f != null) {
      return f;
    }
    for (FieldDescriptor candidate : type.getFields()) {
      if (candidate.getJsonName().equals(key)) {
        return candidate;
      }
    }
    return null;
  }
}
