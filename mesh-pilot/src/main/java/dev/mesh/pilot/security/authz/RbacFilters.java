package dev.mesh.pilot.security.authz;

import com.google.protobuf.Any;
import dev.mesh.config.security.AuthorizationPolicy;
import dev.mesh.config.security.AuthorizationPolicySpec;
import dev.mesh.config.security.AuthorizationPolicySpec.Action;
import io.envoyproxy.envoy.config.listener.v3.Filter;
import io.envoyproxy.envoy.config.rbac.v3.Policy;
import io.envoyproxy.envoy.config.rbac.v3.RBAC;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A workload's AuthorizationPolicies as the RBAC filters of its inbound chains, as Istio's builder
 * makes them: one filter per action, in Istio's order (CUSTOM, AUDIT, DENY, ALLOW), each policy
 * rule an RBAC policy named {@code ns[<ns>]-policy[<name>]-rule[<i>]}. No policy, no filter; ALLOW
 * policies whose rules all fall away still make a filter, which then allows nothing.
 */
public final class RbacFilters {
  private RbacFilters() {}

  public static final String HTTP_FILTER = "envoy.filters.http.rbac";
  public static final String NETWORK_FILTER = "envoy.filters.network.rbac";

  /** The filters for HTTP chains and for TCP chains. */
  public record Inbound(List<HttpFilter> http, List<Filter> tcp) {
    public static final Inbound NONE = new Inbound(List.of(), List.of());
  }

  /**
   * @param warn told once per policy and cause what pilot cannot honour in it
   */
  public static Inbound build(List<AuthorizationPolicy> policies, Consumer<String> warn) {
    if (policies.isEmpty()) {
      return Inbound.NONE;
    }
    List<HttpFilter> http = new ArrayList<>();
    List<Filter> tcp = new ArrayList<>();
    for (Action action : List.of(Action.CUSTOM, Action.AUDIT, Action.DENY, Action.ALLOW)) {
      List<AuthorizationPolicy> of =
          policies.stream().filter(p -> action(p.getSpec()) == action).toList();
      if (of.isEmpty()) {
        continue;
      }
      RBAC forHttp = rules(of, action, false, warn);
      RBAC forTcp = rules(of, action, true, warn);
      if (forHttp != null) {
        http.add(
            HttpFilter.newBuilder()
                .setName(HTTP_FILTER)
                .setTypedConfig(
                    Any.pack(
                        io.envoyproxy
                            .envoy
                            .extensions
                            .filters
                            .http
                            .rbac
                            .v3
                            .RBAC
                            .newBuilder()
                            .setRules(forHttp)
                            .build()))
                .build());
      }
      if (forTcp != null) {
        tcp.add(
            Filter.newBuilder()
                .setName(NETWORK_FILTER)
                .setTypedConfig(
                    Any.pack(
                        io.envoyproxy
                            .envoy
                            .extensions
                            .filters
                            .network
                            .rbac
                            .v3
                            .RBAC
                            .newBuilder()
                            .setRules(forTcp)
                            .setStatPrefix("tcp.")
                            .build()))
                .build());
      }
    }
    return new Inbound(List.copyOf(http), List.copyOf(tcp));
  }

  private static Action action(AuthorizationPolicySpec spec) {
    return spec.action == null ? Action.ALLOW : spec.action;
  }

  /** The RBAC rules of one action's policies, or null when they make no filter. */
  private static RBAC rules(
      List<AuthorizationPolicy> policies, Action action, boolean tcp, Consumer<String> warn) {
    Map<String, Policy> out = new LinkedHashMap<>();
    for (AuthorizationPolicy p : policies) {
      String ns = p.getMetadata().getNamespace();
      String ref = "AuthorizationPolicy " + ns + "/" + p.getMetadata().getName();
      String name = "ns[" + ns + "]-policy[" + p.getMetadata().getName() + "]-rule[";
      if (action == Action.CUSTOM) {
        warn.accept(
            ref
                + ": action CUSTOM needs an ext_authz provider, which this mesh does not have;"
                + " the requests its rules match are denied, as Istio does for a provider it"
                + " cannot find");
        name = "istio-ext-authz-" + name;
      }
      RuleTranslator.Notes notes =
          new RuleTranslator.Notes() {
            @Override
            public void requestPrincipals() {
              warn.accept(
                  ref
                      + ": requestPrincipals and request.auth.* need RequestAuthentication (JWT),"
                      + " which this mesh does not support: no request carries a validated JWT,"
                      + " so they never match");
            }

            @Override
            public void pathTemplate(String path) {
              warn.accept(
                  ref
                      + ": path template "
                      + path
                      + " is not supported; "
                      + (action == Action.ALLOW ? "it matches no path" : "it matches any path"));
            }
          };
      var rules = p.getSpec().rules;
      if (rules == null || rules.isEmpty()) {
        if (action == Action.ALLOW) {
          out.put(name + "0]", RuleTranslator.none());
        }
        continue;
      }
      for (int i = 0; i < rules.size(); i++) {
        Policy policy;
        try {
          policy = RuleTranslator.translate(rules.get(i), ns, tcp, action == Action.ALLOW, notes);
        } catch (IllegalArgumentException e) {
          // Validation refuses such a rule; one that slips through fails closed.
          warn.accept(ref + ": spec.rules[" + i + "]: " + e.getMessage());
          if (action == Action.ALLOW) {
            continue;
          }
          policy =
              RuleTranslator.translate(new AuthorizationPolicySpec.Rule(), ns, tcp, false, notes);
        }
        if (policy != null) {
          String suffix = action == Action.CUSTOM ? "-deny-due-to-bad-CUSTOM-action" : "";
          out.put(name + i + "]" + suffix, policy);
        }
      }
    }
    if (out.isEmpty() && action != Action.ALLOW) {
      return null;
    }
    RBAC.Action envoy =
        switch (action) {
          case ALLOW -> RBAC.Action.ALLOW;
          case DENY, CUSTOM -> RBAC.Action.DENY;
          case AUDIT -> RBAC.Action.LOG;
        };
    return RBAC.newBuilder().setAction(envoy).putAllPolicies(out).build();
  }
}
