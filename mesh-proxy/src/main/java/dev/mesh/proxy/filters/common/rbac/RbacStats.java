package dev.mesh.proxy.filters.common.rbac;

import dev.mesh.proxy.stats.Stats;

/**
 * The RBAC filters' counters, named as Envoy's generateStats names them: {@code <prefix>rbac.} then
 * the rules' stat prefix and {@code allowed} / {@code denied}, or the shadow rules' prefix and
 * {@code shadow_allowed} / {@code shadow_denied}.
 */
public record RbacStats(
    Stats.Counter allowed,
    Stats.Counter denied,
    Stats.Counter shadowAllowed,
    Stats.Counter shadowDenied) {

  /** Under a stats scope (the HTTP filter's: {@code http.<hcm stat_prefix>.}). */
  public static RbacStats of(
      Stats stats, Stats.Scope scope, String rulesPrefix, String shadowRulesPrefix) {
    return new RbacStats(
        stats.counter(scope, "rbac." + rulesPrefix + "allowed"),
        stats.counter(scope, "rbac." + rulesPrefix + "denied"),
        stats.counter(scope, "rbac." + shadowRulesPrefix + "shadow_allowed"),
        stats.counter(scope, "rbac." + shadowRulesPrefix + "shadow_denied"));
  }

  /**
   * Under a plain stat prefix (the network filter's {@code stat_prefix}, with or without its
   * trailing dot): {@code <stat_prefix>.rbac.allowed}. Its first segment is the stat's kind.
   */
  public static RbacStats of(Stats stats, String statPrefix, String shadowRulesPrefix) {
    String prefix = statPrefix.endsWith(".") ? statPrefix : statPrefix + ".";
    int dot = prefix.indexOf('.');
    Stats.Scope scope = new Stats.Scope(prefix.substring(0, dot), null, null);
    String rest = prefix.substring(dot + 1);
    return new RbacStats(
        stats.counter(scope, rest + "rbac.allowed"),
        stats.counter(scope, rest + "rbac.denied"),
        stats.counter(scope, rest + "rbac." + shadowRulesPrefix + "shadow_allowed"),
        stats.counter(scope, rest + "rbac." + shadowRulesPrefix + "shadow_denied"));
  }

  public void count(RbacEngine.Result r, boolean shadow) {
    if (shadow) {
      (r.allowed() ? shadowAllowed : shadowDenied).inc();
    } else {
      (r.allowed() ? allowed : denied).inc();
    }
  }
}
