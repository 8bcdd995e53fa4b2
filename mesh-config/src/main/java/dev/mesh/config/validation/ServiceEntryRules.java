package dev.mesh.config.validation;

import static dev.mesh.config.validation.Problems.each;

import dev.mesh.config.networking.ServiceEntrySpec;
import dev.mesh.config.networking.ServiceEntrySpec.Resolution;
import java.util.HashSet;
import java.util.Set;

final class ServiceEntryRules {
  private ServiceEntryRules() {}

  static void check(ServiceEntrySpec spec, Problems p) {
    if (p.required(spec.hosts, "spec.hosts")) {
      each(
          spec.hosts,
          "spec.hosts",
          (h, at) -> {
            if (p.required(h, at)
                && h.startsWith("*")
                && (spec.resolution == Resolution.DNS
                    || spec.resolution == Resolution.DNS_ROUND_ROBIN)) {
              p.add(at, "a wildcard host cannot be resolved by DNS: use resolution NONE");
            }
          });
    }
    Set<String> portNames = new HashSet<>();
    each(
        spec.ports,
        "spec.ports",
        (port, at) -> {
          GatewayRules.port(port, at, p);
          if (p.required(port.name, at + ".name") && !portNames.add(port.name)) {
            p.add(at + ".name", "duplicate port name \"" + port.name + "\"");
          }
        });
    if (spec.resolution == Resolution.STATIC
        && spec.workloadSelector == null
        && (spec.endpoints == null || spec.endpoints.isEmpty())) {
      p.add("spec.endpoints", "STATIC resolution needs endpoints or a workloadSelector");
    }
    if (spec.endpoints != null && spec.workloadSelector != null) {
      p.add("spec.workloadSelector", "must not be set together with endpoints");
    }
    each(
        spec.endpoints,
        "spec.endpoints",
        (e, at) -> {
          p.required(e.address, at + ".address");
          if (e.ports != null) {
            e.ports.forEach(
                (name, number) -> {
                  p.port(number, at + ".ports." + name);
                  if (!portNames.contains(name)) {
                    p.add(at + ".ports." + name, "names no port of the entry");
                  }
                });
          }
          p.range(e.weight, 0, Integer.MAX_VALUE, at + ".weight");
        });
  }
}
