package dev.mesh.config.validation;

import static dev.mesh.config.validation.Problems.each;

import dev.mesh.config.networking.Destination;
import dev.mesh.config.networking.VirtualServiceSpec;
import dev.mesh.config.networking.VirtualServiceSpec.HTTPFaultInjection;
import dev.mesh.config.networking.VirtualServiceSpec.HTTPMatchRequest;
import dev.mesh.config.networking.VirtualServiceSpec.HTTPRoute;
import dev.mesh.config.networking.VirtualServiceSpec.RouteDestination;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

final class VirtualServiceRules {
  private VirtualServiceRules() {}

  private static final Duration MIN = Duration.ofMillis(1);

  // Envoy's retry_on conditions that Istio passes through; numeric status codes are allowed too.
  private static final Set<String> RETRY_ON =
      Set.of(
          "5xx",
          "gateway-error",
          "reset",
          "reset-before-request",
          "connect-failure",
          "retriable-4xx",
          "refused-stream",
          "retriable-status-codes",
          "retriable-headers",
          "envoy-ratelimited",
          "http3-post-connect-failure",
          "cancelled",
          "deadline-exceeded",
          "internal",
          "resource-exhausted",
          "unavailable");

  private static final Set<Integer> REDIRECT_CODES = Set.of(301, 302, 303, 307, 308);

  static void check(VirtualServiceSpec spec, Problems p) {
    if (p.required(spec.hosts, "spec.hosts")) {
      for (int i = 0; i < spec.hosts.size(); i++) {
        p.required(spec.hosts.get(i), "spec.hosts[" + i + "]");
      }
    }
    boolean hasRoutes =
        spec.http != null && !spec.http.isEmpty()
            || spec.tcp != null && !spec.tcp.isEmpty()
            || spec.tls != null && !spec.tls.isEmpty();
    if (!hasRoutes) {
      p.add("spec", "must have at least one http, tls or tcp route");
    }
    each(spec.http, "spec.http", (r, at) -> http(r, at, p));
    each(
        spec.tcp,
        "spec.tcp",
        (r, at) -> {
          each(r.match, at + ".match", (m, mat) -> p.port(m.port, mat + ".port"));
          routeDestinations(r.route, at + ".route", p);
        });
    each(
        spec.tls,
        "spec.tls",
        (r, at) -> {
          if (p.required(r.match, at + ".match")) {
            each(r.match, at + ".match", (m, mat) -> p.required(m.sniHosts, mat + ".sniHosts"));
          }
          routeDestinations(r.route, at + ".route", p);
        });
  }

  private static void http(HTTPRoute r, String at, Problems p) {
    int actions =
        (r.route != null && !r.route.isEmpty() ? 1 : 0)
            + (r.redirect != null ? 1 : 0)
            + (r.directResponse != null ? 1 : 0)
            + (r.delegate != null ? 1 : 0);
    if (actions != 1) {
      p.add(at, "must have exactly one of route, redirect, directResponse or delegate");
    }
    each(r.match, at + ".match", (m, mat) -> match(m, mat, p));
    weighted(r.route, at + ".route", d -> d.destination, d -> d.weight, p);
    p.duration(r.timeout, Duration.ZERO, at + ".timeout");
    if (r.retries != null) {
      p.range(r.retries.attempts, 0, Integer.MAX_VALUE, at + ".retries.attempts");
      p.duration(r.retries.perTryTimeout, MIN, at + ".retries.perTryTimeout");
      p.duration(r.retries.backoff, MIN, at + ".retries.backoff");
      if (r.retries.retryOn != null) {
        for (String cond : r.retries.retryOn.split(",")) {
          String c = cond.trim();
          if (!RETRY_ON.contains(c) && !c.matches("[1-5]\\d\\d")) {
            p.add(at + ".retries.retryOn", "unknown retry condition \"" + c + "\"");
          }
        }
      }
    }
    if (r.fault != null) {
      fault(r.fault, at + ".fault", p);
    }
    if (r.mirror != null) {
      destination(r.mirror, at + ".mirror", p);
    }
    p.percent(r.mirrorPercentage, at + ".mirrorPercentage");
    each(
        r.mirrors,
        at + ".mirrors",
        (m, mat) -> {
          if (p.required(m.destination, mat + ".destination")) {
            destination(m.destination, mat + ".destination", p);
          }
          p.percent(m.percentage, mat + ".percentage");
        });
    if (r.redirect != null) {
      if (r.redirect.redirectCode != null && !REDIRECT_CODES.contains(r.redirect.redirectCode)) {
        p.add(
            at + ".redirect.redirectCode",
            "must be one of 301, 302, 303, 307 or 308, got " + r.redirect.redirectCode);
      }
      p.port(r.redirect.port, at + ".redirect.port");
    }
    if (r.directResponse != null) {
      p.range(r.directResponse.status, 200, 599, at + ".directResponse.status");
    }
    if (r.rewrite != null && r.rewrite.uri != null && r.rewrite.uriRegexRewrite != null) {
      p.add(at + ".rewrite", "must not set both uri and uriRegexRewrite");
    }
    if (r.rewrite != null && r.rewrite.uriRegexRewrite != null) {
      p.regex(r.rewrite.uriRegexRewrite.match, at + ".rewrite.uriRegexRewrite.match");
    }
  }

  private static void match(HTTPMatchRequest m, String at, Problems p) {
    p.stringMatch(m.uri, at + ".uri");
    p.stringMatch(m.scheme, at + ".scheme");
    p.stringMatch(m.method, at + ".method");
    p.stringMatch(m.authority, at + ".authority");
    headerMatches(m.headers, at + ".headers", p);
    headerMatches(m.withoutHeaders, at + ".withoutHeaders", p);
    if (m.queryParams != null) {
      m.queryParams.forEach((k, v) -> p.stringMatch(v, at + ".queryParams." + k));
    }
    p.port(m.port, at + ".port");
  }

  private static void headerMatches(
      Map<String, dev.mesh.config.networking.StringMatch> headers, String at, Problems p) {
    if (headers == null) {
      return;
    }
    headers.forEach(
        (name, m) -> {
          if (!name.equals(name.toLowerCase(java.util.Locale.ROOT))) {
            p.add(at + "." + name, "header names must be lowercase");
          }
          // Istio allows an empty match here: it means "the header is present".
          if (m != null && (m.exact != null || m.prefix != null || m.regex != null)) {
            p.stringMatch(m, at + "." + name);
          }
        });
  }

  private static void fault(HTTPFaultInjection f, String at, Problems p) {
    if (f.delay == null && f.abort == null) {
      p.add(at, "must set delay or abort");
    }
    if (f.delay != null) {
      if (p.required(f.delay.fixedDelay, at + ".delay.fixedDelay")) {
        p.duration(f.delay.fixedDelay, MIN, at + ".delay.fixedDelay");
      }
      p.percent(f.delay.percentage, at + ".delay.percentage");
      p.range(f.delay.percent, 0, 100, at + ".delay.percent");
    }
    if (f.abort != null) {
      int kinds =
          (f.abort.httpStatus != null ? 1 : 0)
              + (f.abort.grpcStatus != null ? 1 : 0)
              + (f.abort.http2Error != null ? 1 : 0);
      if (kinds != 1) {
        p.add(at + ".abort", "must set exactly one of httpStatus, grpcStatus or http2Error");
      }
      p.range(f.abort.httpStatus, 200, 599, at + ".abort.httpStatus");
      p.percent(f.abort.percentage, at + ".abort.percentage");
    }
  }

  private static void routeDestinations(List<RouteDestination> route, String at, Problems p) {
    weighted(route, at, d -> d.destination, d -> d.weight, p);
  }

  /** Each destination valid; weights 0 to 100 that, with more than one, add up to 100. */
  private static <T> void weighted(
      List<T> route,
      String at,
      Function<T, Destination> destination,
      Function<T, Integer> weight,
      Problems p) {
    if (route == null) {
      return;
    }
    int total = 0;
    for (int i = 0; i < route.size(); i++) {
      String dat = at + "[" + i + "]";
      Destination d = destination.apply(route.get(i));
      if (p.required(d, dat + ".destination")) {
        destination(d, dat + ".destination", p);
      }
      Integer w = weight.apply(route.get(i));
      p.range(w, 0, 100, dat + ".weight");
      total += w == null ? 0 : w;
    }
    if (route.size() > 1 && total != 100) {
      p.add(at, "total destination weight " + total + " != 100");
    }
  }

  static void destination(Destination d, String at, Problems p) {
    p.required(d.host, at + ".host");
    if (d.port != null) {
      p.port(d.port.number, at + ".port.number");
    }
  }
}
