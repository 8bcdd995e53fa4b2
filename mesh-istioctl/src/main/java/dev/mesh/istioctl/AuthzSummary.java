package dev.mesh.istioctl;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;

/**
 * istioctl x authz check's table, from a proxy's ListenersConfigDump: the RBAC filters (HTTP ones
 * inside each HTTP connection manager, network ones beside it) of every listener's filter chains
 * (shadow rules, a dry run, are not in force and not shown); their policies, named {@code
 * ns[<ns>]-policy[<name>]-rule[<i>]} by pilot, grouped by AuthorizationPolicy ({@code name.ns})
 * under the filter's action, with how many distinct rules of it are in force anywhere in the proxy.
 * An RBAC filter without policies shows as Istio's {@code _anonymous_match_nothing_}. Actions in
 * Istio's order: DENY, ALLOW, LOG (an AUDIT policy is a LOG filter; a CUSTOM one, with no provider
 * here, a DENY filter).
 */
final class AuthzSummary {
  private AuthzSummary() {}

  static final String ANONYMOUS = "_anonymous_match_nothing_";
  private static final Pattern NAME =
      Pattern.compile("ns\\[(.+)\\]-policy\\[(.+)\\]-rule\\[(.+)\\]");
  private static final List<String> ACTIONS = List.of("DENY", "ALLOW", "LOG");
  private static final List<String> HCM =
      List.of("envoy.filters.network.http_connection_manager", "envoy.http_connection_manager");
  private static final String HCM_TYPE =
      ".extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
  private static final String HTTP_RBAC_TYPE = ".extensions.filters.http.rbac.v3.RBAC";
  private static final String NETWORK_RBAC_TYPE = ".extensions.filters.network.rbac.v3.RBAC";

  record Row(String action, String policy, int rules) {}

  /**
   * The rows, from the listeners in force: dynamic ones (istioctl reads only those) and the
   * bootstrap's static ones (a proxy run from a bootstrap, a gateway say, has no other).
   */
  static List<Row> rows(JsonNode listenersDump) {
    List<JsonNode> listeners = new ArrayList<>();
    for (JsonNode d : listenersDump.path("dynamic_listeners")) {
      if (d.path("active_state").has("listener")) {
        listeners.add(d.path("active_state").path("listener"));
      }
    }
    for (JsonNode s : listenersDump.path("static_listeners")) {
      listeners.add(s.path("listener"));
    }
    if (listeners.isEmpty()) {
      return null;
    }
    Map<String, TreeSet<String>> byAction = new LinkedHashMap<>();
    Map<String, TreeSet<String>> rulesOf = new TreeMap<>();
    for (JsonNode l : listeners) {
      for (JsonNode chain : l.path("filter_chains")) {
        for (JsonNode filter : chain.path("filters")) {
          String name = filter.path("name").asString("");
          JsonNode config = filter.path("typed_config");
          if (HCM.contains(name) || config.path("@type").asString("").endsWith(HCM_TYPE)) {
            for (JsonNode http : config.path("http_filters")) {
              if (isRbac(http.path("typed_config"), HTTP_RBAC_TYPE)) {
                add(http.path("typed_config").path("rules"), byAction, rulesOf);
              }
            }
          } else if (isRbac(config, NETWORK_RBAC_TYPE)) {
            add(config.path("rules"), byAction, rulesOf);
          }
        }
      }
    }
    List<Row> out = new ArrayList<>();
    for (String action : ACTIONS) {
      for (String policy : byAction.getOrDefault(action, new TreeSet<>())) {
        out.add(new Row(action, policy, rulesOf.get(policy).size()));
      }
    }
    return out;
  }

  /** Nothing at all when the proxy has no listener, as istioctl. */
  static void print(PrintWriter out, List<Row> rows) {
    if (rows == null) {
      return;
    }
    Columns table = new Columns(3).row("ACTION", "AuthorizationPolicy", "RULES");
    for (Row r : rows) {
      table.row(r.action(), r.policy(), r.rules());
    }
    table.print(out);
  }

  /**
   * An RBAC filter by its config's type (what Envoy goes by), whatever its name: pilot names them
   * envoy.filters.http.rbac and envoy.filters.network.rbac, which is all istioctl looks for.
   */
  private static boolean isRbac(JsonNode typedConfig, String type) {
    return typedConfig.path("@type").asString("").endsWith(type);
  }

  private static void add(
      JsonNode rules, Map<String, TreeSet<String>> byAction, Map<String, TreeSet<String>> rulesOf) {
    // proto3 JSON leaves out the default: ALLOW
    String action = rules.path("action").asString("ALLOW");
    JsonNode policies = rules.path("policies");
    if (policies.isEmpty()) {
      put(action, ANONYMOUS, "0", byAction, rulesOf);
      return;
    }
    for (String name : policies.propertyNames()) {
      String[] policyAndRule = policyAndRule(name);
      put(action, policyAndRule[0], policyAndRule[1], byAction, rulesOf);
    }
  }

  private static void put(
      String action,
      String policy,
      String rule,
      Map<String, TreeSet<String>> byAction,
      Map<String, TreeSet<String>> rulesOf) {
    byAction.computeIfAbsent(action, a -> new TreeSet<>()).add(policy);
    rulesOf.computeIfAbsent(policy, p -> new TreeSet<>()).add(rule);
  }

  /** {@code name.ns} and the rule's index of a pilot-made policy name; blanks for another name. */
  static String[] policyAndRule(String rbacPolicyName) {
    Matcher m = NAME.matcher(rbacPolicyName);
    if (!m.find()) {
      return new String[] {"", ""};
    }
    return new String[] {m.group(2) + "." + m.group(1), m.group(3)};
  }
}
