package dev.mesh.proxy.listener;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.stream.ConnectionInfo;
import io.envoyproxy.envoy.config.listener.v3.ListenerFilterChainMatchPredicate;
import java.util.List;
import java.util.function.Predicate;

/**
 * Envoy's ListenerFilterChainMatchPredicate, as a listener filter's filter_disabled uses it: a
 * connection it matches skips that filter (Istio keeps http_inspector off the inbound ports whose
 * protocol is known this way).
 */
final class ListenerFilterPredicate {
  private ListenerFilterPredicate() {}

  static Predicate<ConnectionInfo> of(ListenerFilterChainMatchPredicate p, String at) {
    return switch (p.getRuleCase()) {
      case OR_MATCH -> {
        List<Predicate<ConnectionInfo>> rules = all(p.getOrMatch(), at);
        yield c -> rules.stream().anyMatch(r -> r.test(c));
      }
      case AND_MATCH -> {
        List<Predicate<ConnectionInfo>> rules = all(p.getAndMatch(), at);
        yield c -> rules.stream().allMatch(r -> r.test(c));
      }
      case NOT_MATCH -> of(p.getNotMatch(), at).negate();
      case ANY_MATCH -> c -> p.getAnyMatch();
      case DESTINATION_PORT_RANGE -> {
        int start = p.getDestinationPortRange().getStart();
        int end = p.getDestinationPortRange().getEnd(); // exclusive, as Envoy's Int32Range
        yield c -> {
          int port = c.localAddress() == null ? -1 : c.localAddress().getPort();
          return port >= start && port < end;
        };
      }
      default -> throw new ConfigRejectedException(at + ": filter_disabled needs a rule");
    };
  }

  private static List<Predicate<ConnectionInfo>> all(
      ListenerFilterChainMatchPredicate.MatchSet set, String at) {
    return set.getRulesList().stream().map(r -> of(r, at)).toList();
  }
}
