package dev.mesh.proxy.route;

import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A compiled RouteConfiguration. Virtual hosts are chosen by the request's authority in Envoy's
 * order: exact domain, then the longest suffix wildcard ({@code *.foo.com}), then the longest
 * prefix wildcard ({@code foo.*}), then {@code *}. The port is part of the domain unless the
 * connection manager strips it or the configuration ignores it in matching
 * (ignore_port_in_host_matching, which Istio sets on sidecar routes so that one domain per name
 * serves every port). Within a virtual host the first matching route wins.
 */
public final class RouteTable {
  private final RouteConfiguration config;
  private final Map<String, Host> exact = new HashMap<>();
  private final List<Map.Entry<String, Host>> suffixes = new ArrayList<>();
  private final List<Map.Entry<String, Host>> prefixes = new ArrayList<>();
  private Host any;
  private final HeaderMutations requestHeaders;
  private final HeaderMutations responseHeaders;

  /** A virtual host's routes and header changes. */
  public record Host(
      VirtualHost config,
      List<RouteEntry> routes,
      HeaderMutations requestHeaders,
      HeaderMutations responseHeaders) {}

  /** The route a request matched, with everything needed to apply its header changes. */
  public record Match(RouteTable table, Host host, RouteEntry route) {
    /** The most specific typed_per_filter_config for a filter: the route's, else the host's. */
    public com.google.protobuf.Any perFilterConfig(String filterName) {
      com.google.protobuf.Any a = route.perFilterConfig(filterName);
      return a != null ? a : host.config().getTypedPerFilterConfigOrDefault(filterName, null);
    }

    public void applyRequestHeaders(io.netty.handler.codec.http.HttpHeaders h) {
      route.requestHeaders().apply(h);
      host.requestHeaders().apply(h);
      table.requestHeaders.apply(h);
    }

    public void applyResponseHeaders(io.netty.handler.codec.http.HttpHeaders h) {
      route.responseHeaders().apply(h);
      host.responseHeaders().apply(h);
      table.responseHeaders.apply(h);
    }
  }

  public RouteTable(RouteConfiguration config) {
    this.config = config;
    this.requestHeaders =
        new HeaderMutations(
            config.getRequestHeadersToAddList(), config.getRequestHeadersToRemoveList());
    this.responseHeaders =
        new HeaderMutations(
            config.getResponseHeadersToAddList(), config.getResponseHeadersToRemoveList());
    for (VirtualHost vh : config.getVirtualHostsList()) {
      List<RouteEntry> routes = vh.getRoutesList().stream().map(RouteEntry::new).toList();
      Host host =
          new Host(
              vh,
              routes,
              new HeaderMutations(
                  vh.getRequestHeadersToAddList(), vh.getRequestHeadersToRemoveList()),
              new HeaderMutations(
                  vh.getResponseHeadersToAddList(), vh.getResponseHeadersToRemoveList()));
      for (String d : vh.getDomainsList()) {
        String domain = d.toLowerCase(Locale.ROOT);
        if (domain.equals("*")) {
          any = duplicateCheck(any, host, d);
        } else if (domain.startsWith("*")) {
          suffixes.add(Map.entry(domain.substring(1), host));
        } else if (domain.endsWith("*")) {
          prefixes.add(Map.entry(domain.substring(0, domain.length() - 1), host));
        } else if (exact.putIfAbsent(domain, host) != null) {
          throw new IllegalArgumentException(
              "route config " + config.getName() + ": domain '" + d + "' is in two virtual hosts");
        }
      }
    }
    Comparator<Map.Entry<String, Host>> longestFirst =
        Comparator.comparingInt((Map.Entry<String, Host> e) -> e.getKey().length()).reversed();
    suffixes.sort(longestFirst);
    prefixes.sort(longestFirst);
  }

  private Host duplicateCheck(Host current, Host next, String domain) {
    if (current != null) {
      throw new IllegalArgumentException(
          "route config " + config.getName() + ": domain '" + domain + "' is in two virtual hosts");
    }
    return next;
  }

  public RouteConfiguration config() {
    return config;
  }

  /** The matching route, or null when no virtual host or route matches (Envoy answers 404). */
  public Match select(RequestView request) {
    String authority = request.authority().toLowerCase(Locale.ROOT);
    if (config.getIgnorePortInHostMatching()) {
      authority = Authority.withoutPort(authority);
    }
    Host host = host(authority);
    if (host == null) {
      return null;
    }
    for (RouteEntry r : host.routes()) {
      if (r.matches(request)) {
        return new Match(this, host, r);
      }
    }
    return null;
  }

  private Host host(String authority) {
    Host h = exact.get(authority);
    if (h != null) {
      return h;
    }
    for (var e : suffixes) {
      // A suffix wildcard needs at least one character before the suffix.
      if (authority.length() > e.getKey().length() && authority.endsWith(e.getKey())) {
        return e.getValue();
      }
    }
    for (var e : prefixes) {
      if (authority.length() > e.getKey().length() && authority.startsWith(e.getKey())) {
        return e.getValue();
      }
    }
    return any;
  }
}
