package dev.mesh.pilot.security.authz;

import dev.mesh.config.security.AuthorizationPolicySpec.Condition;
import dev.mesh.config.security.AuthorizationPolicySpec.Operation;
import dev.mesh.config.security.AuthorizationPolicySpec.Rule;
import dev.mesh.config.security.AuthorizationPolicySpec.Source;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.rbac.v3.Permission;
import io.envoyproxy.envoy.config.rbac.v3.Policy;
import io.envoyproxy.envoy.config.rbac.v3.Principal;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.type.matcher.v3.ListMatcher;
import io.envoyproxy.envoy.type.matcher.v3.MetadataMatcher;
import io.envoyproxy.envoy.type.matcher.v3.PathMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.matcher.v3.ValueMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * One AuthorizationPolicy rule as an RBAC policy, in the shape Istio's builder gives it: a
 * permission per {@code to} and a principal per {@code from}, each the AND of its fields (every
 * field the OR of its values, a {@code notX} field a NOT of that OR), the {@code when} conditions
 * added to each of them. For a TCP chain, fields only HTTP has are left out; an ALLOW rule that has
 * one is left out whole instead, since leaving the field out would allow more than it says.
 */
final class RuleTranslator {
  private RuleTranslator() {}

  static final String AUTHN_FILTER = "istio_authn";

  /** What an unsupported or partly supported field causes: said once per policy. */
  interface Notes {
    void requestPrincipals();

    void pathTemplate(String path);
  }

  /**
   * The policy for a rule, or null when the rule is left out of a TCP chain.
   *
   * @param widen whether a value that cannot be translated should match everything (DENY, AUDIT,
   *     CUSTOM: refuse more rather than less) or nothing (ALLOW)
   */
  static Policy translate(Rule rule, String namespace, boolean tcp, boolean allow, Notes notes) {
    if (tcp && allow && hasHttpField(rule)) {
      return null;
    }
    boolean widen = !allow;
    List<Permission> fromWhen = new ArrayList<>();
    List<Principal> idsFromWhen = new ArrayList<>();
    if (rule.when != null) {
      for (Condition c : rule.when) {
        condition(c, namespace, tcp, fromWhen, idsFromWhen, notes);
      }
    }
    Policy.Builder policy = Policy.newBuilder();
    List<Operation> tos = new ArrayList<>();
    if (rule.to != null) {
      for (var to : rule.to) {
        tos.add(to.operation == null ? new Operation() : to.operation);
      }
    }
    if (tos.isEmpty()) {
      tos.add(new Operation());
    }
    for (Operation op : tos) {
      List<Permission> and = new ArrayList<>();
      if (!tcp) {
        field(
            and, op.hosts, op.notHosts, v -> header(":authority", v, true), RuleTranslator::anyOf);
        field(
            and,
            op.methods,
            op.notMethods,
            v -> header(":method", v, false),
            RuleTranslator::anyOf);
        field(
            and,
            paths(op.paths, widen, notes),
            paths(op.notPaths, !widen, notes),
            RuleTranslator::path,
            RuleTranslator::anyOf);
      }
      field(and, op.ports, op.notPorts, RuleTranslator::port, RuleTranslator::anyOf);
      and.addAll(fromWhen);
      policy.addPermissions(
          Permission.newBuilder()
              .setAndRules(
                  Permission.Set.newBuilder()
                      .addAllRules(nonEmpty(and, Permission.newBuilder().setAny(true).build()))));
    }
    List<Source> froms = new ArrayList<>();
    if (rule.from != null) {
      for (var from : rule.from) {
        froms.add(from.source == null ? new Source() : from.source);
      }
    }
    if (froms.isEmpty()) {
      froms.add(new Source());
    }
    for (Source s : froms) {
      List<Principal> and = new ArrayList<>();
      field(
          and,
          s.principals,
          s.notPrincipals,
          v -> authenticated(Values.principal(v)),
          RuleTranslator::anyIdOf);
      if (!tcp) {
        if (s.requestPrincipals != null || s.notRequestPrincipals != null) {
          notes.requestPrincipals();
        }
        field(
            and,
            s.requestPrincipals,
            s.notRequestPrincipals,
            v -> jwt("request.auth.principal", Values.string(v, false), false),
            RuleTranslator::anyIdOf);
      }
      field(
          and,
          s.namespaces,
          s.notNamespaces,
          v -> authenticated(Values.namespace(v)),
          RuleTranslator::anyIdOf);
      field(
          and,
          s.serviceAccounts,
          s.notServiceAccounts,
          v -> authenticated(Values.serviceAccount(v, namespace)),
          RuleTranslator::anyIdOf);
      field(
          and,
          s.remoteIpBlocks,
          s.notRemoteIpBlocks,
          v -> Principal.newBuilder().setRemoteIp(cidr(v)).build(),
          RuleTranslator::anyIdOf);
      field(
          and,
          s.ipBlocks,
          s.notIpBlocks,
          v -> Principal.newBuilder().setDirectRemoteIp(cidr(v)).build(),
          RuleTranslator::anyIdOf);
      and.addAll(idsFromWhen);
      policy.addPrincipals(
          Principal.newBuilder()
              .setAndIds(
                  Principal.Set.newBuilder()
                      .addAllIds(nonEmpty(and, Principal.newBuilder().setAny(true).build()))));
    }
    return policy.build();
  }

  /** Istio's policy for an ALLOW policy with no rules: it matches nothing. */
  static Policy none() {
    return Policy.newBuilder()
        .addPermissions(Permission.newBuilder().setNotRule(Permission.newBuilder().setAny(true)))
        .addPrincipals(Principal.newBuilder().setNotId(Principal.newBuilder().setAny(true)))
        .build();
  }

  private static void condition(
      Condition c,
      String namespace,
      boolean tcp,
      List<Permission> permissions,
      List<Principal> principals,
      Notes notes) {
    String key = c.key;
    if (key.startsWith("request.headers[") && key.endsWith("]")) {
      if (!tcp) {
        String name = key.substring("request.headers[".length(), key.length() - 1);
        field(principals, c.values, c.notValues, v -> headerId(name, v), RuleTranslator::anyIdOf);
      }
      return;
    }
    if (key.startsWith("request.auth.")) {
      if (!tcp) {
        notes.requestPrincipals();
        field(
            principals, c.values, c.notValues, v -> authCondition(key, v), RuleTranslator::anyIdOf);
      }
      return;
    }
    switch (key) {
      case "source.ip" ->
          field(
              principals,
              c.values,
              c.notValues,
              v -> Principal.newBuilder().setDirectRemoteIp(cidr(v)).build(),
              RuleTranslator::anyIdOf);
      case "remote.ip" ->
          field(
              principals,
              c.values,
              c.notValues,
              v -> Principal.newBuilder().setRemoteIp(cidr(v)).build(),
              RuleTranslator::anyIdOf);
      case "source.namespace" ->
          field(
              principals,
              c.values,
              c.notValues,
              v -> authenticated(Values.namespace(v)),
              RuleTranslator::anyIdOf);
      case "source.principal" ->
          field(
              principals,
              c.values,
              c.notValues,
              v -> authenticated(Values.principal(v)),
              RuleTranslator::anyIdOf);
      case "source.serviceAccount" ->
          field(
              principals,
              c.values,
              c.notValues,
              v -> authenticated(Values.serviceAccount(v, namespace)),
              RuleTranslator::anyIdOf);
      case "destination.ip" ->
          field(
              permissions,
              c.values,
              c.notValues,
              v -> Permission.newBuilder().setDestinationIp(cidr(v)).build(),
              RuleTranslator::anyOf);
      case "destination.port" ->
          field(permissions, c.values, c.notValues, RuleTranslator::port, RuleTranslator::anyOf);
      case "connection.sni" ->
          field(
              permissions,
              c.values,
              c.notValues,
              v -> Permission.newBuilder().setRequestedServerName(Values.string(v, false)).build(),
              RuleTranslator::anyOf);
      default -> throw new IllegalArgumentException("unknown condition key " + key);
    }
  }

  private static boolean hasHttpField(Rule rule) {
    if (rule.to != null) {
      for (var to : rule.to) {
        Operation op = to.operation;
        if (op != null
            && (set(op.hosts)
                || set(op.notHosts)
                || set(op.methods)
                || set(op.notMethods)
                || set(op.paths)
                || set(op.notPaths))) {
          return true;
        }
      }
    }
    if (rule.from != null) {
      for (var from : rule.from) {
        Source s = from.source;
        if (s != null && (set(s.requestPrincipals) || set(s.notRequestPrincipals))) {
          return true;
        }
      }
    }
    if (rule.when != null) {
      for (Condition c : rule.when) {
        if (c.key.startsWith("request.")) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean set(List<String> l) {
    return l != null && !l.isEmpty();
  }

  /** A field's OR of values, and its NOT OR of notValues, appended to an AND. */
  private static <T> void field(
      List<T> and,
      List<String> values,
      List<String> notValues,
      Function<String, T> one,
      OrOf<T> or) {
    if (set(values)) {
      and.add(or.of(values.stream().map(one).toList(), false));
    }
    if (set(notValues)) {
      and.add(or.of(notValues.stream().map(one).toList(), true));
    }
  }

  @FunctionalInterface
  interface OrOf<T> {
    T of(List<T> any, boolean negated);
  }

  private static <T> List<T> nonEmpty(List<T> l, T any) {
    return l.isEmpty() ? List.of(any) : l;
  }

  /**
   * Paths Istio's proxy can match: a template ({@code {*}}, {@code {**}}) needs uri_template, which
   * mesh-proxy does not take, so it becomes any path where refusing more is safe and is left out
   * where allowing less is.
   */
  private static List<String> paths(List<String> paths, boolean widen, Notes notes) {
    if (paths == null) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (String p : paths) {
      if (p.contains("{")) {
        notes.pathTemplate(p);
        if (widen) {
          out.add("*");
        }
      } else {
        out.add(p);
      }
    }
    return out.isEmpty() && !paths.isEmpty() ? List.of("{none}") : out;
  }

  private static Permission path(String v) {
    if (v.equals("{none}")) {
      return Permission.newBuilder().setNotRule(Permission.newBuilder().setAny(true)).build();
    }
    return Permission.newBuilder()
        .setUrlPath(PathMatcher.newBuilder().setPath(Values.string(v, false)))
        .build();
  }

  private static Permission port(String v) {
    return Permission.newBuilder().setDestinationPort(Integer.parseInt(v.trim())).build();
  }

  @SuppressWarnings("deprecation")
  private static HeaderMatcher.Builder headerMatcher(String name, String v, boolean ignoreCase) {
    HeaderMatcher.Builder h = HeaderMatcher.newBuilder().setName(name);
    if (v.equals("*")) {
      return h.setPresentMatch(true);
    }
    if (ignoreCase) {
      return h.setStringMatch(Values.string(v, true));
    }
    // Istio's builder still says these with the older fields; they mean the same.
    if (v.startsWith("*")) {
      return h.setSuffixMatch(v.substring(1));
    }
    if (v.endsWith("*")) {
      return h.setPrefixMatch(v.substring(0, v.length() - 1));
    }
    return h.setExactMatch(v);
  }

  private static Permission header(String name, String v, boolean ignoreCase) {
    return Permission.newBuilder().setHeader(headerMatcher(name, v, ignoreCase)).build();
  }

  private static Principal headerId(String name, String v) {
    return Principal.newBuilder().setHeader(headerMatcher(name, v, false)).build();
  }

  private static Principal authenticated(StringMatcher m) {
    return Principal.newBuilder()
        .setAuthenticated(Principal.Authenticated.newBuilder().setPrincipalName(m))
        .build();
  }

  /** A claim of a validated JWT, where Istio's authn filter would have put it. */
  private static Principal jwt(String key, StringMatcher value, boolean list) {
    MetadataMatcher.Builder m = MetadataMatcher.newBuilder().setFilter(AUTHN_FILTER);
    for (String k : key.split("\u0000")) {
      m.addPath(MetadataMatcher.PathSegment.newBuilder().setKey(k));
    }
    ValueMatcher.Builder v = ValueMatcher.newBuilder();
    if (list) {
      v.setListMatch(
          ListMatcher.newBuilder().setOneOf(ValueMatcher.newBuilder().setStringMatch(value)));
    } else {
      v.setStringMatch(value);
    }
    return Principal.newBuilder().setMetadata(m.setValue(v)).build();
  }

  private static Principal authCondition(String key, String v) {
    if (key.startsWith("request.auth.claims[")) {
      String claims = key.substring("request.auth.claims".length());
      List<String> path = new ArrayList<>(List.of("request.auth.claims"));
      for (String part : claims.split("\\]")) {
        if (part.startsWith("[")) {
          path.add(part.substring(1));
        }
      }
      return jwt(String.join("\u0000", path), Values.string(v, false), true);
    }
    return jwt(key, Values.string(v, false), false);
  }

  static CidrRange cidr(String v) {
    String s = v.trim();
    int slash = s.indexOf('/');
    String address = slash < 0 ? s : s.substring(0, slash);
    int len =
        slash < 0 ? (address.contains(":") ? 128 : 32) : Integer.parseInt(s.substring(slash + 1));
    return CidrRange.newBuilder()
        .setAddressPrefix(address)
        .setPrefixLen(com.google.protobuf.UInt32Value.of(len))
        .build();
  }

  private static Permission anyOf(List<Permission> rules, boolean negated) {
    Permission or =
        Permission.newBuilder().setOrRules(Permission.Set.newBuilder().addAllRules(rules)).build();
    return negated ? Permission.newBuilder().setNotRule(or).build() : or;
  }

  private static Principal anyIdOf(List<Principal> ids, boolean negated) {
    Principal or =
        Principal.newBuilder().setOrIds(Principal.Set.newBuilder().addAllIds(ids)).build();
    return negated ? Principal.newBuilder().setNotId(or).build() : or;
  }
}
