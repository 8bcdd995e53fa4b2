package dev.mesh.pilot.xds;

import com.google.protobuf.Any;
import com.google.protobuf.UInt32Value;
import dev.mesh.api.ClusterName;
import dev.mesh.api.EnvoyNames;
import dev.mesh.config.networking.Destination;
import dev.mesh.config.networking.Headers;
import dev.mesh.config.networking.StringMatch;
import dev.mesh.config.networking.VirtualService;
import dev.mesh.config.networking.VirtualServiceSpec.HTTPMatchRequest;
import dev.mesh.config.networking.VirtualServiceSpec.HTTPRoute;
import dev.mesh.pilot.model.MeshService;
import dev.mesh.pilot.model.ServiceIndex;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.RuntimeFractionalPercent;
import io.envoyproxy.envoy.config.route.v3.DirectResponseAction;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.config.route.v3.QueryParameterMatcher;
import io.envoyproxy.envoy.config.route.v3.RedirectAction;
import io.envoyproxy.envoy.config.route.v3.RetryPolicy;
import io.envoyproxy.envoy.config.route.v3.Route;
import io.envoyproxy.envoy.config.route.v3.RouteAction;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.config.route.v3.VirtualHost;
import io.envoyproxy.envoy.config.route.v3.WeightedCluster;
import io.envoyproxy.envoy.extensions.filters.common.fault.v3.FaultDelay;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.FaultAbort;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.envoyproxy.envoy.type.v3.FractionalPercent;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The route configuration of one outbound HTTP port (named by the port, as Istio names it): a
 * virtual host per service on that port, answering to the names a client can use for it, with the
 * routes of its VirtualService (or one default route), and {@code allow_any} for other hosts.
 */
final class RouteGenerator {
  private RouteGenerator() {}

  static final String FAULT_FILTER = "envoy.filters.http.fault";
  // Istio's default retry policy, within what mesh-proxy implements (docs/pilot.md).
  private static final RetryPolicy DEFAULT_RETRIES =
      RetryPolicy.newBuilder()
          .setRetryOn("connect-failure,reset,retriable-status-codes")
          .setNumRetries(UInt32Value.of(2))
          .addRetriableStatusCodes(503)
          .build();
  private static final Set<String> RETRY_ON =
      Set.of("5xx", "gateway-error", "connect-failure", "retriable-status-codes", "reset");

  static RouteConfiguration forPort(
      ServiceIndex index,
      int port,
      List<MeshService> services,
      String proxyNamespace,
      boolean allowAny,
      Problems problems) {
    RouteConfiguration.Builder rc =
        RouteConfiguration.newBuilder()
            .setName(EnvoyNames.routeConfig(port))
            .setValidateClusters(com.google.protobuf.BoolValue.of(false))
            // As Istio's sidecar routes: a name matches with any port, so no name is listed twice.
            .setIgnorePortInHostMatching(true);
    Set<String> taken = new LinkedHashSet<>();
    for (MeshService s : services) {
      VirtualHost.Builder vh = VirtualHost.newBuilder().setName(s.hostname() + ":" + port);
      for (String d : names(s, proxyNamespace)) {
        if (taken.add(d)) {
          vh.addDomains(d);
        }
      }
      List<Route> routes = new ArrayList<>(virtualServiceRoutes(index, s, port, problems));
      if (routes.isEmpty()) {
        routes.add(defaultRoute(s, port));
      }
      vh.addAllRoutes(routes);
      rc.addVirtualHosts(vh);
    }
    rc.addVirtualHosts(
        VirtualHost.newBuilder()
            .setName(allowAny ? "allow_any" : "block_all")
            .addDomains("*")
            .addRoutes(
                Route.newBuilder()
                    .setName(allowAny ? "allow_any" : "block_all")
                    .setMatch(RouteMatch.newBuilder().setPrefix("/"))
                    .setRoute(
                        RouteAction.newBuilder()
                            .setCluster(
                                allowAny
                                    ? EnvoyNames.PASSTHROUGH_CLUSTER
                                    : EnvoyNames.BLACKHOLE_CLUSTER)
                            .setTimeout(com.google.protobuf.Duration.getDefaultInstance()))));
    return rc.build();
  }

  /**
   * The routes of one service on a sniffed port (its own listener's HTTP chain, named {@code
   * host:port}): its VirtualService's routes, else its default route, whatever the Host says (the
   * destination address already named the service).
   */
  static RouteConfiguration forService(
      ServiceIndex index,
      MeshService s,
      int port,
      String name,
      String proxyNamespace,
      Problems problems) {
    VirtualHost.Builder vh = VirtualHost.newBuilder().setName(name).addDomains("*");
    List<Route> routes = new ArrayList<>(virtualServiceRoutes(index, s, port, problems));
    if (routes.isEmpty()) {
      routes.add(defaultRoute(s, port));
    }
    vh.addAllRoutes(routes);
    return RouteConfiguration.newBuilder()
        .setName(name)
        .setValidateClusters(com.google.protobuf.BoolValue.of(false))
        .addVirtualHosts(vh)
        .build();
  }

  private static Route defaultRoute(MeshService s, int port) {
    return Route.newBuilder()
        .setName("default")
        .setMatch(RouteMatch.newBuilder().setPrefix("/"))
        .setRoute(
            RouteAction.newBuilder()
                .setCluster(ClusterName.outbound(port, s.hostname()).toString())
                .setTimeout(com.google.protobuf.Duration.getDefaultInstance())
                .setRetryPolicy(DEFAULT_RETRIES))
        .build();
  }

  /**
   * The routes of the service's VirtualService for a port, or none when it has none or when it
   * cannot be translated (reported once, naming it; the service then gets its default route).
   */
  static List<Route> virtualServiceRoutes(
      ServiceIndex index, MeshService s, int port, Problems problems) {
    List<VirtualService> rules = index.virtualServices(s.hostname());
    if (rules.isEmpty()) {
      return List.of();
    }
    VirtualService vs = rules.get(0);
    try {
      return routes(index, vs, s, port);
    } catch (IllegalArgumentException e) {
      problems.report(
          "VirtualService "
              + vs.getMetadata().getNamespace()
              + "/"
              + vs.getMetadata().getName()
              + ": "
              + e.getMessage());
      return List.of();
    }
  }

  /** The names a client may use: the FQDN, short forms in its own namespace, the cluster IP. */
  static List<String> names(MeshService s, String proxyNamespace) {
    List<String> names = new ArrayList<>();
    names.add(s.hostname());
    if (!s.external()) {
      String svc = s.name() + "." + s.namespace();
      names.add(svc + ".svc");
      names.add(svc);
      if (s.namespace().equals(proxyNamespace)) {
        names.add(s.name());
      }
    }
    if (s.address() != null) {
      names.add(s.address().contains(":") ? "[" + s.address() + "]" : s.address());
    }
    return names;
  }

  /** The same names, each also with the port, for clients that match the authority whole. */
  static List<String> namesWithPort(MeshService s, int port, String proxyNamespace) {
    List<String> out = new ArrayList<>();
    for (String n : names(s, proxyNamespace)) {
      out.add(n);
      out.add(n + ":" + port);
    }
    return out;
  }

  /** The Envoy routes of a VirtualService's http section, for one service port. */
  static List<Route> routes(ServiceIndex index, VirtualService vs, MeshService s, int port) {
    String ns = vs.getMetadata().getNamespace();
    List<Route> out = new ArrayList<>();
    List<HTTPRoute> http = vs.getSpec().http == null ? List.of() : vs.getSpec().http;
    for (int i = 0; i < http.size(); i++) {
      HTTPRoute h = http.get(i);
      String name = h.name != null ? h.name : vs.getMetadata().getName() + "." + i;
      List<HTTPMatchRequest> matches =
          h.match == null || h.match.isEmpty()
              ? java.util.Collections.singletonList(null)
              : h.match;
      for (HTTPMatchRequest m : matches) {
        if (m != null && m.port != null && m.port != port) {
          continue;
        }
        Route.Builder r = Route.newBuilder().setName(name).setMatch(match(m));
        action(index, h, ns, s, port, r);
        headers(h.headers, r);
        out.add(r.build());
      }
    }
    return out;
  }

  private static RouteMatch match(HTTPMatchRequest m) {
    RouteMatch.Builder b = RouteMatch.newBuilder();
    if (m == null || m.uri == null) {
      b.setPrefix("/");
    } else if (m.uri.exact != null) {
      b.setPath(m.uri.exact);
    } else if (m.uri.prefix != null) {
      b.setPrefix(m.uri.prefix);
    } else if (m.uri.regex != null) {
      b.setSafeRegex(regex(m.uri.regex));
    } else {
      b.setPrefix("/");
    }
    if (m == null) {
      return b.build();
    }
    if (Boolean.TRUE.equals(m.ignoreUriCase)) {
      b.setCaseSensitive(com.google.protobuf.BoolValue.of(false));
    }
    if (m.headers != null) {
      m.headers.forEach((k, v) -> b.addHeaders(header(k.toLowerCase(Locale.ROOT), v, false)));
    }
    if (m.withoutHeaders != null) {
      m.withoutHeaders.forEach((k, v) -> b.addHeaders(header(k.toLowerCase(Locale.ROOT), v, true)));
    }
    if (m.method != null) {
      b.addHeaders(header(":method", m.method, false));
    }
    if (m.authority != null) {
      b.addHeaders(header(":authority", m.authority, false));
    }
    if (m.queryParams != null) {
      m.queryParams.forEach(
          (k, v) ->
              b.addQueryParameters(
                  QueryParameterMatcher.newBuilder().setName(k).setStringMatch(string(v))));
    }
    return b.build();
  }

  private static HeaderMatcher header(String name, StringMatch v, boolean invert) {
    HeaderMatcher.Builder h = HeaderMatcher.newBuilder().setName(name).setInvertMatch(invert);
    if (v.exact == null && v.prefix == null && v.regex == null) {
      h.setPresentMatch(true); // Istio: an empty match means "present"
    } else {
      h.setStringMatch(string(v));
    }
    return h.build();
  }

  private static io.envoyproxy.envoy.type.matcher.v3.StringMatcher string(StringMatch v) {
    var b = io.envoyproxy.envoy.type.matcher.v3.StringMatcher.newBuilder();
    if (v.exact != null) {
      b.setExact(v.exact);
    } else if (v.prefix != null) {
      b.setPrefix(v.prefix);
    } else if (v.regex != null) {
      b.setSafeRegex(regex(v.regex));
    }
    return b.build();
  }

  private static RegexMatcher regex(String r) {
    return RegexMatcher.newBuilder()
        .setGoogleRe2(RegexMatcher.GoogleRE2.getDefaultInstance())
        .setRegex(r)
        .build();
  }

  private static void action(
      ServiceIndex index, HTTPRoute h, String ns, MeshService s, int port, Route.Builder r) {
    if (h.redirect != null) {
      RedirectAction.Builder red = RedirectAction.newBuilder();
      if (h.redirect.uri != null) {
        red.setPathRedirect(h.redirect.uri);
      }
      if (h.redirect.authority != null) {
        red.setHostRedirect(h.redirect.authority);
      }
      if (h.redirect.port != null) {
        red.setPortRedirect(h.redirect.port);
      }
      if (h.redirect.scheme != null) {
        red.setSchemeRedirect(h.redirect.scheme);
      }
      int code = h.redirect.redirectCode == null ? 301 : h.redirect.redirectCode;
      red.setResponseCode(
          switch (code) {
            case 302 -> RedirectAction.RedirectResponseCode.FOUND;
            case 303 -> RedirectAction.RedirectResponseCode.SEE_OTHER;
            case 307 -> RedirectAction.RedirectResponseCode.TEMPORARY_REDIRECT;
            case 308 -> RedirectAction.RedirectResponseCode.PERMANENT_REDIRECT;
            default -> RedirectAction.RedirectResponseCode.MOVED_PERMANENTLY;
          });
      r.setRedirect(red);
      return;
    }
    if (h.directResponse != null) {
      DirectResponseAction.Builder d =
          DirectResponseAction.newBuilder().setStatus(h.directResponse.status);
      if (h.directResponse.body != null && h.directResponse.body.string != null) {
        d.setBody(DataSource.newBuilder().setInlineString(h.directResponse.body.string));
      }
      r.setDirectResponse(d);
      return;
    }
    RouteAction.Builder a = RouteAction.newBuilder();
    var dests =
        h.route == null
            ? List.<dev.mesh.config.networking.VirtualServiceSpec.HTTPRouteDestination>of()
            : h.route;
    if (dests.isEmpty()) {
      throw new IllegalArgumentException("http route without destinations");
    }
    if (dests.size() == 1) {
      a.setCluster(cluster(index, dests.get(0).destination, ns, s, port));
    } else {
      WeightedCluster.Builder w = WeightedCluster.newBuilder();
      for (var d : dests) {
        int weight = d.weight == null ? 0 : d.weight;
        if (weight == 0) {
          continue; // Istio drops zero-weight destinations
        }
        w.addClusters(
            WeightedCluster.ClusterWeight.newBuilder()
                .setName(cluster(index, d.destination, ns, s, port))
                .setWeight(UInt32Value.of(weight)));
      }
      a.setWeightedClusters(w);
    }
    a.setTimeout(
        h.timeout == null
            ? com.google.protobuf.Duration.getDefaultInstance()
            : ClusterGenerator.duration(h.timeout));
    a.setRetryPolicy(retries(h));
    if (h.rewrite != null) {
      if (h.rewrite.uri != null) {
        a.setPrefixRewrite(h.rewrite.uri);
      }
      if (h.rewrite.authority != null) {
        a.setHostRewriteLiteral(h.rewrite.authority);
      }
    }
    List<Destination> mirrors = new ArrayList<>();
    List<Double> percents = new ArrayList<>();
    if (h.mirror != null) {
      mirrors.add(h.mirror);
      percents.add(h.mirrorPercentage == null ? 100.0 : h.mirrorPercentage.value);
    }
    if (h.mirrors != null) {
      for (var m : h.mirrors) {
        mirrors.add(m.destination);
        percents.add(m.percentage == null ? 100.0 : m.percentage.value);
      }
    }
    for (int i = 0; i < mirrors.size(); i++) {
      a.addRequestMirrorPolicies(
          RouteAction.RequestMirrorPolicy.newBuilder()
              .setCluster(cluster(index, mirrors.get(i), ns, s, port))
              .setRuntimeFraction(
                  RuntimeFractionalPercent.newBuilder().setDefaultValue(percent(percents.get(i)))));
    }
    r.setRoute(a);
    if (h.fault != null) {
      r.putTypedPerFilterConfig(FAULT_FILTER, Any.pack(fault(h.fault)));
    }
  }

  private static RetryPolicy retries(HTTPRoute h) {
    if (h.retries == null) {
      return DEFAULT_RETRIES;
    }
    int attempts = h.retries.attempts == null ? 2 : h.retries.attempts;
    if (attempts == 0) {
      return RetryPolicy.getDefaultInstance();
    }
    RetryPolicy.Builder p = RetryPolicy.newBuilder().setNumRetries(UInt32Value.of(attempts));
    List<String> on = new ArrayList<>();
    String retryOn =
        h.retries.retryOn == null
            ? "connect-failure,reset,retriable-status-codes"
            : h.retries.retryOn;
    for (String c : retryOn.split(",")) {
      c = c.trim();
      if (c.matches("\\d{3}")) {
        p.addRetriableStatusCodes(Integer.parseInt(c));
        if (!on.contains("retriable-status-codes")) {
          on.add("retriable-status-codes");
        }
      } else if (RETRY_ON.contains(c) && !on.contains(c)) {
        on.add(c);
      } else if (!c.isEmpty() && !RETRY_ON.contains(c)) {
        throw new IllegalArgumentException(
            "retries.retryOn: '"
                + c
                + "' is not supported (supported: "
                + RETRY_ON
                + ", status codes)");
      }
    }
    if (h.retries.retryOn == null) {
      p.addRetriableStatusCodes(503);
    }
    p.setRetryOn(String.join(",", on));
    if (h.retries.perTryTimeout != null) {
      p.setPerTryTimeout(ClusterGenerator.duration(h.retries.perTryTimeout));
    }
    return p.build();
  }

  private static HTTPFault fault(
      dev.mesh.config.networking.VirtualServiceSpec.HTTPFaultInjection f) {
    HTTPFault.Builder b = HTTPFault.newBuilder();
    if (f.delay != null && f.delay.fixedDelay != null) {
      double pct =
          f.delay.percentage != null
              ? f.delay.percentage.value
              : f.delay.percent != null ? f.delay.percent : 100.0;
      b.setDelay(
          FaultDelay.newBuilder()
              .setFixedDelay(ClusterGenerator.duration(f.delay.fixedDelay))
              .setPercentage(percent(pct)));
    }
    if (f.abort != null) {
      FaultAbort.Builder a = FaultAbort.newBuilder();
      if (f.abort.httpStatus != null) {
        a.setHttpStatus(f.abort.httpStatus);
      } else if (f.abort.grpcStatus != null) {
        a.setGrpcStatus(grpcCode(f.abort.grpcStatus));
      } else {
        throw new IllegalArgumentException("fault.abort needs httpStatus or grpcStatus");
      }
      a.setPercentage(percent(f.abort.percentage == null ? 100.0 : f.abort.percentage.value));
      b.setAbort(a);
    }
    return b.build();
  }

  private static int grpcCode(String name) {
    try {
      return io.grpc.Status.Code.valueOf(name).value();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("fault.abort.grpcStatus: unknown code '" + name + "'");
    }
  }

  /** A percentage (0-100, fractions allowed) as Envoy's per-million fraction. */
  static FractionalPercent percent(double pct) {
    return FractionalPercent.newBuilder()
        .setNumerator((int) Math.round(Math.max(0, Math.min(100, pct)) * 10_000))
        .setDenominator(FractionalPercent.DenominatorType.MILLION)
        .build();
  }

  /** The outbound cluster of a destination: its host completed, its port or the route's. */
  private static String cluster(
      ServiceIndex index, Destination d, String ns, MeshService s, int port) {
    String host = index.fqdn(d.host, ns);
    int p = d.port != null && d.port.number != null ? d.port.number : 0;
    if (p == 0) {
      MeshService target = index.service(host);
      p = target != null && target.ports().size() == 1 ? target.ports().get(0).port() : port;
    }
    return ClusterName.outbound(p, d.subset, host).toString();
  }

  private static void headers(Headers h, Route.Builder r) {
    if (h == null) {
      return;
    }
    if (h.request != null) {
      add(h.request.set, true, r::addRequestHeadersToAdd);
      add(h.request.add, false, r::addRequestHeadersToAdd);
      if (h.request.remove != null) {
        r.addAllRequestHeadersToRemove(h.request.remove);
      }
    }
    if (h.response != null) {
      add(h.response.set, true, r::addResponseHeadersToAdd);
      add(h.response.add, false, r::addResponseHeadersToAdd);
      if (h.response.remove != null) {
        r.addAllResponseHeadersToRemove(h.response.remove);
      }
    }
  }

  private static void add(
      java.util.Map<String, String> values,
      boolean overwrite,
      java.util.function.Consumer<HeaderValueOption> to) {
    if (values == null) {
      return;
    }
    values.forEach(
        (k, v) ->
            to.accept(
                HeaderValueOption.newBuilder()
                    .setHeader(HeaderValue.newBuilder().setKey(k).setValue(v))
                    .setAppendAction(
                        overwrite
                            ? HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD
                            : HeaderValueOption.HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD)
                    .build()));
  }
}
