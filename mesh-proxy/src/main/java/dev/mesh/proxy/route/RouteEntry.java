package dev.mesh.proxy.route;

import dev.mesh.proxy.config.ProtoDurations;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;

/** One compiled route: its match, and what it does with a request it matches. */
public final class RouteEntry {
  private final Route config;
  private final Predicate<RequestView> match;
  private final HeaderMutations requestHeaders;
  private final HeaderMutations responseHeaders;
  private final String directResponseBody;
  private final Duration timeout;
  private final RetryPolicy retryPolicy;
  // Cluster choices compiled once: the single cluster, or weighted entries and their weights.
  private final ClusterChoice single;
  private final List<ClusterChoice> weighted;
  private final long[] weights;
  private final long totalWeight;

  RouteEntry(Route config) {
    this.config = config;
    this.directResponseBody =
        config.hasDirectResponse()
            ? dev.mesh.proxy.config.DataSources.text(
                config.getDirectResponse().getBody(),
                "route " + config.getName() + " direct_response")
            : "";
    this.match = compile(config.getMatch());
    this.timeout =
        ProtoDurations.orDefault(
            config.getRoute().hasTimeout(), config.getRoute().getTimeout(), Duration.ofSeconds(15));
    var action = config.getRoute();
    this.retryPolicy = RetryPolicy.of(config);
    this.single =
        new ClusterChoice(action.getCluster(), HeaderMutations.NONE, HeaderMutations.NONE);
    List<ClusterChoice> choices = new ArrayList<>();
    List<Long> ws = new ArrayList<>();
    long total = 0;
    for (var c : action.getWeightedClusters().getClustersList()) {
      choices.add(
          new ClusterChoice(
              c.getName(),
              new HeaderMutations(
                  c.getRequestHeadersToAddList(), c.getRequestHeadersToRemoveList()),
              new HeaderMutations(
                  c.getResponseHeadersToAddList(), c.getResponseHeadersToRemoveList())));
      ws.add((long) c.getWeight().getValue());
      total += c.getWeight().getValue();
    }
    this.weighted = List.copyOf(choices);
    this.weights = ws.stream().mapToLong(Long::longValue).toArray();
    this.totalWeight = total;
    this.requestHeaders =
        new HeaderMutations(
            config.getRequestHeadersToAddList(), config.getRequestHeadersToRemoveList());
    this.responseHeaders =
        new HeaderMutations(
            config.getResponseHeadersToAddList(), config.getResponseHeadersToRemoveList());
  }

  public Route config() {
    return config;
  }

  boolean matches(RequestView r) {
    return match.test(r);
  }

  /** The route's typed_per_filter_config for a filter, or null. */
  public com.google.protobuf.Any perFilterConfig(String filterName) {
    return config.getTypedPerFilterConfigOrDefault(filterName, null);
  }

  /** A direct response's body, read once (inline, or from its file) when the config loads. */
  public String directResponseBody() {
    return directResponseBody;
  }

  public HeaderMutations requestHeaders() {
    return requestHeaders;
  }

  public HeaderMutations responseHeaders() {
    return responseHeaders;
  }

  /** The route's retry_policy, compiled; NONE when it has none. */
  public RetryPolicy retryPolicy() {
    return retryPolicy;
  }

  /** Envoy's default route timeout is 15 s; zero disables it. */
  public Duration timeout() {
    return timeout;
  }

  /** The cluster for this request: the route's cluster, or one of its weighted clusters. */
  public ClusterChoice pickCluster() {
    if (totalWeight == 0) {
      return single;
    }
    long r = ThreadLocalRandom.current().nextLong(totalWeight);
    for (int i = 0; i < weighted.size(); i++) {
      r -= weights[i];
      if (r < 0) {
        return weighted.get(i);
      }
    }
    return single;
  }

  /** The chosen cluster and the header changes of its weighted-cluster entry. */
  public record ClusterChoice(
      String cluster, HeaderMutations requestHeaders, HeaderMutations responseHeaders) {}

  private static Predicate<RequestView> compile(RouteMatch m) {
    boolean caseSensitive = !m.hasCaseSensitive() || m.getCaseSensitive().getValue();
    List<Predicate<RequestView>> all = new ArrayList<>();
    switch (m.getPathSpecifierCase()) {
      case PREFIX -> all.add(r -> StringMatch.startsWith(r.path(), m.getPrefix(), !caseSensitive));
      case PATH ->
          all.add(
              r ->
                  caseSensitive
                      ? r.path().equals(m.getPath())
                      : r.path().equalsIgnoreCase(m.getPath()));
      case SAFE_REGEX -> {
        Predicate<String> p = StringMatch.regex(m.getSafeRegex().getRegex());
        all.add(r -> p.test(r.path()));
      }
      case PATH_SEPARATED_PREFIX -> {
        String prefix = m.getPathSeparatedPrefix();
        all.add(
            r ->
                StringMatch.startsWith(r.path(), prefix, !caseSensitive)
                    && (r.path().length() == prefix.length()
                        || r.path().charAt(prefix.length()) == '/'));
      }
      default -> throw new IllegalArgumentException("a route match needs a path specifier");
    }
    for (HeaderMatcher h : m.getHeadersList()) {
      all.add(header(h));
    }
    for (QueryParameterMatcher q : m.getQueryParametersList()) {
      all.add(query(q));
    }
    return r -> {
      for (Predicate<RequestView> p : all) {
        if (!p.test(r)) {
          return false;
        }
      }
      return true;
    };
  }

  /**
   * Envoy's HeaderMatcher as a predicate on a request, for routes and for filters that select
   * requests by headers (fault, health check); {@code :path}, {@code :authority} and {@code
   * :method} match the request line's path (with its query), the Host and the method.
   */
  public static Predicate<RequestView> headerMatcher(HeaderMatcher h) {
    return header(h);
  }

  private static Predicate<RequestView> header(HeaderMatcher h) {
    String name = h.getName();
    Predicate<String> value =
        switch (h.getHeaderMatchSpecifierCase()) {
          case EXACT_MATCH -> v -> v.equals(h.getExactMatch());
          case PREFIX_MATCH -> v -> v.startsWith(h.getPrefixMatch());
          case SUFFIX_MATCH -> v -> v.endsWith(h.getSuffixMatch());
          case CONTAINS_MATCH -> v -> v.contains(h.getContainsMatch());
          case SAFE_REGEX_MATCH -> StringMatch.regex(h.getSafeRegexMatch().getRegex());
          case STRING_MATCH -> StringMatch.of(h.getStringMatch());
          case PRESENT_MATCH -> v -> h.getPresentMatch();
          default -> v -> true;
        };
    boolean invert = h.getInvertMatch();
    return r -> {
      // Envoy matches a header that appears more than once against its values joined by commas.
      List<String> values =
          switch (name) {
            case ":path" -> List.of(r.uri());
            case ":authority" -> r.authority().isEmpty() ? List.of() : List.of(r.authority());
            case ":method" -> List.of(r.method());
            default -> r.headers().getAll(name);
          };
      boolean matched;
      if (values.isEmpty()) {
        matched =
            h.getHeaderMatchSpecifierCase() == HeaderMatcher.HeaderMatchSpecifierCase.PRESENT_MATCH
                && !h.getPresentMatch();
      } else {
        matched = value.test(String.join(",", values));
      }
      return matched != invert;
    };
  }

  private static Predicate<RequestView> query(QueryParameterMatcher q) {
    String name = q.getName();
    if (q.hasStringMatch()) {
      Predicate<String> value = StringMatch.of(q.getStringMatch());
      return r -> {
        List<String> values = r.query().get(name);
        return values != null && !values.isEmpty() && value.test(values.get(0));
      };
    }
    // present_match, or no specifier at all, which Envoy takes as "must be present".
    boolean wantPresent = !q.hasPresentMatch() || q.getPresentMatch();
    return r -> r.query().containsKey(name) == wantPresent;
  }
}
