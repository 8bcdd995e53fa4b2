package dev.mesh.config.validation;

import static dev.mesh.config.validation.Problems.each;

import dev.mesh.config.security.AuthorizationPolicySpec;
import dev.mesh.config.security.AuthorizationPolicySpec.Action;
import dev.mesh.config.security.PeerAuthenticationSpec;
import dev.mesh.config.security.WorkloadLabelSelector;
import java.util.List;
import java.util.Set;

/**
 * Istio's validation of PeerAuthentication and AuthorizationPolicy, with Istio's messages where
 * Istio has one (pkg/config/validation), each under the field it is about.
 */
final class SecurityRules {
  private SecurityRules() {}

  /** The condition keys Istio's AuthorizationPolicy knows, and those that take a [name]. */
  private static final Set<String> KEYS =
      Set.of(
          "source.ip",
          "remote.ip",
          "source.namespace",
          "source.principal",
          "source.serviceAccount",
          "request.auth.principal",
          "request.auth.audiences",
          "request.auth.presenter",
          "destination.ip",
          "destination.port",
          "connection.sni");

  private static final List<String> NAMED_KEYS =
      List.of("request.headers[", "request.auth.claims[");

  static void check(PeerAuthenticationSpec spec, Problems p) {
    selector(spec.selector, p);
    if (spec.portLevelMtls == null) {
      return;
    }
    if (empty(spec.selector) && !spec.portLevelMtls.isEmpty()) {
      p.add("spec.portLevelMtls", "mesh/namespace peer authentication cannot have port level mTLS");
    }
    if (spec.portLevelMtls.isEmpty()) {
      p.add("spec.portLevelMtls", "port level mTLS, if defined, must have at least one element");
    }
    spec.portLevelMtls.forEach(
        (port, mtls) -> {
          try {
            int n = Integer.parseInt(port);
            if (n <= 0 || n > 65535) {
              p.add("spec.portLevelMtls." + port, "port must be in range 1..65535");
            }
          } catch (NumberFormatException e) {
            p.add("spec.portLevelMtls." + port, "must be a port number");
          }
        });
  }

  static void check(AuthorizationPolicySpec spec, Problems p) {
    selector(spec.selector, p);
    if (spec.selector != null
        && (spec.targetRef != null || spec.targetRefs != null && !spec.targetRefs.isEmpty())) {
      p.add("spec.selector", "only one of targetRefs or workloadSelector can be set");
    }
    if (spec.action == Action.CUSTOM) {
      if (spec.rules == null) {
        p.add(
            "spec.rules",
            "CUSTOM action without `rules` is meaningless as it will never be triggered, add an"
                + " empty rule `{}` if you want it be triggered for every request");
      } else if (spec.provider == null
          || spec.provider.name == null
          || spec.provider.name.isEmpty()) {
        p.add("spec.provider.name", "`provider.name` must not be empty");
      }
    } else if (spec.provider != null) {
      p.add(
          "spec.provider",
          "`provider` must not be with non CUSTOM action, found "
              + (spec.action == null ? Action.ALLOW : spec.action));
    }
    if (spec.action == Action.DENY && spec.rules == null) {
      p.add(
          "spec.rules",
          "DENY action without `rules` is meaningless as it will never be triggered, add an empty"
              + " rule `{}` if you want it be triggered for every request");
    }
    if (spec.rules == null) {
      return;
    }
    for (int i = 0; i < spec.rules.size(); i++) {
      rule(spec.rules.get(i), i, "spec.rules[" + i + "]", p);
    }
  }

  private static void rule(AuthorizationPolicySpec.Rule rule, int i, String at, Problems p) {
    if (rule == null) {
      p.add(at, "`rule` must not be nil, found at rule " + i);
      return;
    }
    if (rule.from != null && rule.from.isEmpty()) {
      p.add(at + ".from", "`from` must not be empty, found at rule " + i);
    }
    each(
        rule.from,
        at + ".from",
        (f, fat) -> {
          var s = f.source;
          if (s == null) {
            p.add(fat + ".source", "`from.source` must not be nil, found at rule " + i);
            return;
          }
          if (size(s.principals, s.notPrincipals, s.namespaces, s.notNamespaces) > 0
              && size(s.serviceAccounts, s.notServiceAccounts) > 0) {
            p.add(
                fat + ".source",
                "cannot set serviceAccounts with namespaces or principals, found at rule " + i);
          }
          if (size(
                  s.principals,
                  s.notPrincipals,
                  s.requestPrincipals,
                  s.notRequestPrincipals,
                  s.namespaces,
                  s.notNamespaces,
                  s.serviceAccounts,
                  s.notServiceAccounts,
                  s.ipBlocks,
                  s.notIpBlocks,
                  s.remoteIpBlocks,
                  s.notRemoteIpBlocks)
              == 0) {
            p.add(fat + ".source", "`from.source` must not be empty, found at rule " + i);
          }
          ips(s.ipBlocks, fat + ".source.ipBlocks", p);
          ips(s.notIpBlocks, fat + ".source.notIpBlocks", p);
          ips(s.remoteIpBlocks, fat + ".source.remoteIpBlocks", p);
          ips(s.notRemoteIpBlocks, fat + ".source.notRemoteIpBlocks", p);
        });
    if (rule.to != null && rule.to.isEmpty()) {
      p.add(at + ".to", "`to` must not be empty, found at rule " + i);
    }
    each(
        rule.to,
        at + ".to",
        (t, tat) -> {
          var op = t.operation;
          if (op == null) {
            p.add(tat + ".operation", "`to.operation` must not be nil, found at rule " + i);
            return;
          }
          if (size(
                  op.hosts,
                  op.notHosts,
                  op.ports,
                  op.notPorts,
                  op.methods,
                  op.notMethods,
                  op.paths,
                  op.notPaths)
              == 0) {
            p.add(tat + ".operation", "`to.operation` must not be empty, found at rule " + i);
          }
          each(op.ports, tat + ".operation.ports", (port, pat) -> port(port, pat, p));
          each(op.notPorts, tat + ".operation.notPorts", (port, pat) -> port(port, pat, p));
        });
    each(
        rule.when,
        at + ".when",
        (c, cat) -> {
          if (c.key == null || c.key.isEmpty()) {
            p.add(cat + ".key", "`key` must not be empty");
            return;
          }
          if (size(c.values, c.notValues) == 0) {
            p.add(cat, "at least one of `values` or `notValues` must be set for key " + c.key);
            return;
          }
          boolean known =
              KEYS.contains(c.key)
                  || NAMED_KEYS.stream().anyMatch(k -> c.key.startsWith(k) && c.key.endsWith("]"));
          if (!known) {
            p.add(cat + ".key", "unknown attribute " + c.key);
          } else if (c.key.endsWith(".ip")) {
            ips(c.values, cat + ".values", p);
            ips(c.notValues, cat + ".notValues", p);
          } else if (c.key.equals("destination.port")) {
            each(c.values, cat + ".values", (v, vat) -> port(v, vat, p));
            each(c.notValues, cat + ".notValues", (v, vat) -> port(v, vat, p));
          }
        });
  }

  private static void selector(WorkloadLabelSelector selector, Problems p) {
    if (selector == null || selector.matchLabels == null) {
      return;
    }
    selector.matchLabels.forEach(
        (k, v) -> {
          if (k.isEmpty()) {
            p.add(
                "spec.selector.matchLabels",
                "empty key is not supported in selector: \"" + k + "=" + v + "\"");
          }
          if (k.contains("*") || v != null && v.contains("*")) {
            p.add(
                "spec.selector.matchLabels",
                "wildcard is not supported in selector: \"" + k + "=" + v + "\"");
          }
        });
  }

  private static boolean empty(WorkloadLabelSelector s) {
    return s == null || s.matchLabels == null || s.matchLabels.isEmpty();
  }

  @SafeVarargs
  private static int size(List<String>... lists) {
    int n = 0;
    for (List<String> l : lists) {
      n += l == null ? 0 : l.size();
    }
    return n;
  }

  private static void ips(List<String> values, String at, Problems p) {
    each(
        values,
        at,
        (v, vat) -> {
          if (!cidr(v)) {
            p.add(vat, "invalid IP address or CIDR range \"" + v + "\"");
          }
        });
  }

  /** An IPv4 or IPv6 address or CIDR range, by its digits: never resolved through DNS. */
  static boolean cidr(String v) {
    String s = v.trim();
    int slash = s.indexOf('/');
    String address = slash < 0 ? s : s.substring(0, slash);
    boolean v6 = address.contains(":");
    if (slash >= 0) {
      try {
        int len = Integer.parseInt(s.substring(slash + 1));
        if (len < 0 || len > (v6 ? 128 : 32)) {
          return false;
        }
      } catch (NumberFormatException e) {
        return false;
      }
    }
    if (v6) {
      return address.matches("[0-9a-fA-F:.]+") && address.contains("::")
          || address.matches("([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}");
    }
    String[] parts = address.split("\\.", -1);
    if (parts.length != 4) {
      return false;
    }
    for (String part : parts) {
      if (!part.matches("[0-9]{1,3}") || Integer.parseInt(part) > 255) {
        return false;
      }
    }
    return true;
  }

  private static void port(String port, String at, Problems p) {
    try {
      p.port(Integer.parseInt(port), at);
    } catch (NumberFormatException e) {
      p.add(at, "must be a port number, got \"" + port + "\"");
    }
  }
}
