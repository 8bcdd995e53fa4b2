package dev.mesh.config.validation;

import static dev.mesh.config.validation.Problems.each;

import dev.mesh.config.security.AuthorizationPolicySpec;
import dev.mesh.config.security.AuthorizationPolicySpec.Action;
import dev.mesh.config.security.PeerAuthenticationSpec;

final class SecurityRules {
  private SecurityRules() {}

  static void check(PeerAuthenticationSpec spec, Problems p) {
    if (spec.portLevelMtls == null) {
      return;
    }
    if (spec.selector == null
        || spec.selector.matchLabels == null
        || spec.selector.matchLabels.isEmpty()) {
      p.add("spec.portLevelMtls", "needs a selector with matchLabels");
    }
    spec.portLevelMtls.forEach(
        (port, mtls) -> {
          try {
            p.port(Integer.parseInt(port), "spec.portLevelMtls." + port);
          } catch (NumberFormatException e) {
            p.add("spec.portLevelMtls." + port, "must be a port number");
          }
        });
  }

  static void check(AuthorizationPolicySpec spec, Problems p) {
    if (spec.action == Action.CUSTOM) {
      if (spec.provider == null || spec.provider.name == null || spec.provider.name.isEmpty()) {
        p.add("spec.provider.name", "is required for the CUSTOM action");
      }
    } else if (spec.provider != null) {
      p.add("spec.provider", "is only allowed with the CUSTOM action");
    }
    if (spec.selector != null && (spec.targetRef != null || spec.targetRefs != null)) {
      p.add("spec.selector", "must not be set together with targetRef or targetRefs");
    }
    each(
        spec.rules,
        "spec.rules",
        (rule, at) -> {
          each(rule.from, at + ".from", (f, fat) -> p.required(f.source, fat + ".source"));
          each(
              rule.to,
              at + ".to",
              (t, tat) -> {
                if (p.required(t.operation, tat + ".operation")) {
                  each(
                      t.operation.ports,
                      tat + ".operation.ports",
                      (port, pat) -> port(port, pat, p));
                  each(
                      t.operation.notPorts,
                      tat + ".operation.notPorts",
                      (port, pat) -> port(port, pat, p));
                }
              });
          each(
              rule.when,
              at + ".when",
              (c, cat) -> {
                p.required(c.key, cat + ".key");
                if ((c.values == null || c.values.isEmpty())
                    && (c.notValues == null || c.notValues.isEmpty())) {
                  p.add(cat, "must set values or notValues");
                }
              });
        });
  }

  private static void port(String port, String at, Problems p) {
    try {
      p.port(Integer.parseInt(port), at);
    } catch (NumberFormatException e) {
      p.add(at, "must be a port number, got \"" + port + "\"");
    }
  }
}
