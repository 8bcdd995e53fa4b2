package dev.mesh.proxy.filters.common.rbac;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.mesh.proxy.config.ConfigRejectedException;
import io.envoyproxy.envoy.config.rbac.v3.Policy;
import io.envoyproxy.envoy.config.rbac.v3.RBAC;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * One RBAC rule set (config/rbac/v3 RBAC) compiled: its action and its policies in name order (as
 * Envoy keeps them, so the first matching name is the effective policy). ALLOW allows what some
 * policy matches, DENY denies it, LOG allows everything and marks a match for the access log.
 */
public final class RbacEngine {
  /**
   * The fields of config/rbac/v3 (and its matchers) that the engine implements, in SupportedFields'
   * form. StringMatcher, HeaderMatcher and CidrRange are the core's, listed there.
   */
  public static final String SUPPORTED_FIELDS =
      """
      envoy.config.rbac.v3.RBAC: action policies
      envoy.config.rbac.v3.RBAC.PoliciesEntry: key value
      envoy.config.rbac.v3.Policy: permissions principals
      envoy.config.rbac.v3.Permission: and_rules or_rules any header url_path destination_ip \\
        destination_port destination_port_range metadata not_rule requested_server_name
      envoy.config.rbac.v3.Permission.Set: rules
      envoy.config.rbac.v3.Principal: and_ids or_ids any authenticated source_ip direct_remote_ip \\
        remote_ip header url_path metadata not_id
      envoy.config.rbac.v3.Principal.Set: ids
      envoy.config.rbac.v3.Principal.Authenticated: principal_name
      envoy.type.matcher.v3.PathMatcher: path
      envoy.type.matcher.v3.MetadataMatcher: filter path value invert
      envoy.type.matcher.v3.MetadataMatcher.PathSegment: key
      envoy.type.matcher.v3.ValueMatcher: null_match double_match string_match bool_match \\
        present_match list_match
      envoy.type.matcher.v3.DoubleMatcher: range exact
      envoy.type.v3.DoubleRange: start end
      envoy.type.matcher.v3.ListMatcher: one_of
      """;

  /** Envoy's namespace and key for LOG's access-log hint. */
  static final String COMMON_NAMESPACE = "envoy.common";

  static final String ACCESS_LOG_HINT = "access_log_hint";

  /** What an engine decided, and the first policy (by name) that matched, or null. */
  public record Result(boolean allowed, String policy) {}

  private record Compiled(
      String name, Predicate<RbacRequest> permissions, Predicate<RbacRequest> principals) {}

  private final RBAC.Action action;
  private final List<Compiled> policies;

  private RbacEngine(RBAC.Action action, List<Compiled> policies) {
    this.action = action;
    this.policies = policies;
  }

  /**
   * The engine of a rules field; null when the field is absent (no enforcement, as Envoy), so a
   * present but empty ALLOW rule set denies everything.
   */
  public static RbacEngine of(boolean present, RBAC rules, String at) {
    if (!present) {
      return null;
    }
    if (rules.getAction() == RBAC.Action.UNRECOGNIZED) {
      throw new ConfigRejectedException(at + ".action: unknown action");
    }
    List<Compiled> compiled = new ArrayList<>();
    for (Map.Entry<String, Policy> e : new TreeMap<>(rules.getPoliciesMap()).entrySet()) {
      String p = at + ".policies[\"" + e.getKey() + "\"]";
      Policy policy = e.getValue();
      compiled.add(
          new Compiled(
              e.getKey(),
              any(
                  RbacMatchers.compileAll(
                      policy.getPermissionsList(), p + ".permissions", RbacMatchers::permission)),
              any(
                  RbacMatchers.compileAll(
                      policy.getPrincipalsList(), p + ".principals", RbacMatchers::principal))));
    }
    return new RbacEngine(rules.getAction(), List.copyOf(compiled));
  }

  private static Predicate<RbacRequest> any(List<Predicate<RbacRequest>> all) {
    return r -> {
      for (Predicate<RbacRequest> p : all) {
        if (p.test(r)) {
          return true;
        }
      }
      return false;
    };
  }

  /**
   * Evaluates a request. An enforcing LOG engine leaves {@code envoy.common: {access_log_hint}} on
   * the stream for the access log; a shadow engine leaves nothing.
   */
  public Result evaluate(RbacRequest r, boolean shadow) {
    String matched = null;
    for (Compiled c : policies) {
      if (c.permissions().test(r) && c.principals().test(r)) {
        matched = c.name();
        break;
      }
    }
    return switch (action) {
      case DENY -> new Result(matched == null, matched);
      case LOG -> {
        if (!shadow) {
          r.setDynamicMetadata(
              COMMON_NAMESPACE,
              Struct.newBuilder()
                  .putFields(
                      ACCESS_LOG_HINT, Value.newBuilder().setBoolValue(matched != null).build())
                  .build());
        }
        yield new Result(true, matched);
      }
      default -> new Result(matched != null, matched);
    };
  }

  /** Envoy's response code details for a denial: the policy's name (spaces as '_') or none. */
  public static String deniedDetails(String policy) {
    return "rbac_access_denied_matched_policy["
        + (policy == null ? "none" : policy.replaceAll("\\s", "_"))
        + "]";
  }
}
