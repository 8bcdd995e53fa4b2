package dev.mesh.config.validation;

import static dev.mesh.config.validation.Problems.each;

import dev.mesh.config.networking.DestinationRuleSpec;
import dev.mesh.config.networking.DestinationRuleSpec.ClientTLSSettings;
import dev.mesh.config.networking.DestinationRuleSpec.ConnectionPoolSettings;
import dev.mesh.config.networking.DestinationRuleSpec.LoadBalancerSettings;
import dev.mesh.config.networking.DestinationRuleSpec.OutlierDetection;
import dev.mesh.config.networking.DestinationRuleSpec.TrafficPolicy;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

final class DestinationRuleRules {
  private DestinationRuleRules() {}

  private static final Duration MIN = Duration.ofMillis(1);

  static void check(DestinationRuleSpec spec, Problems p) {
    p.required(spec.host, "spec.host");
    trafficPolicy(spec.trafficPolicy, "spec.trafficPolicy", p);
    Set<String> names = new HashSet<>();
    each(
        spec.subsets,
        "spec.subsets",
        (s, at) -> {
          if (p.required(s.name, at + ".name") && !names.add(s.name)) {
            p.add(at + ".name", "duplicate subset name \"" + s.name + "\"");
          }
          trafficPolicy(s.trafficPolicy, at + ".trafficPolicy", p);
        });
  }

  private static void trafficPolicy(TrafficPolicy t, String at, Problems p) {
    if (t == null) {
      return;
    }
    loadBalancer(t.loadBalancer, at + ".loadBalancer", p);
    connectionPool(t.connectionPool, at + ".connectionPool", p);
    outlierDetection(t.outlierDetection, at + ".outlierDetection", p);
    tls(t.tls, at + ".tls", p);
    each(
        t.portLevelSettings,
        at + ".portLevelSettings",
        (s, sat) -> {
          if (p.required(s.port, sat + ".port")) {
            p.port(s.port.number, sat + ".port.number");
          }
          loadBalancer(s.loadBalancer, sat + ".loadBalancer", p);
          connectionPool(s.connectionPool, sat + ".connectionPool", p);
          outlierDetection(s.outlierDetection, sat + ".outlierDetection", p);
          tls(s.tls, sat + ".tls", p);
        });
  }

  private static void loadBalancer(LoadBalancerSettings lb, String at, Problems p) {
    if (lb == null) {
      return;
    }
    if (lb.simple != null && lb.consistentHash != null) {
      p.add(at, "must not set both simple and consistentHash");
    }
    if (lb.consistentHash != null) {
      var h = lb.consistentHash;
      int keys =
          (h.httpHeaderName != null ? 1 : 0)
              + (h.httpCookie != null ? 1 : 0)
              + (Boolean.TRUE.equals(h.useSourceIp) ? 1 : 0)
              + (h.httpQueryParameterName != null ? 1 : 0);
      if (keys != 1) {
        p.add(
            at + ".consistentHash",
            "must set exactly one of httpHeaderName, httpCookie, useSourceIp or"
                + " httpQueryParameterName");
      }
      if (h.httpCookie != null) {
        p.required(h.httpCookie.name, at + ".consistentHash.httpCookie.name");
        p.duration(h.httpCookie.ttl, Duration.ZERO, at + ".consistentHash.httpCookie.ttl");
      }
    }
    p.duration(lb.warmupDurationSecs, Duration.ZERO, at + ".warmupDurationSecs");
  }

  private static void connectionPool(ConnectionPoolSettings cp, String at, Problems p) {
    if (cp == null) {
      return;
    }
    if (cp.tcp != null) {
      p.range(cp.tcp.maxConnections, 0, Integer.MAX_VALUE, at + ".tcp.maxConnections");
      p.duration(cp.tcp.connectTimeout, MIN, at + ".tcp.connectTimeout");
      p.duration(cp.tcp.maxConnectionDuration, MIN, at + ".tcp.maxConnectionDuration");
      p.duration(cp.tcp.idleTimeout, Duration.ZERO, at + ".tcp.idleTimeout");
      if (cp.tcp.tcpKeepalive != null) {
        p.duration(cp.tcp.tcpKeepalive.time, MIN, at + ".tcp.tcpKeepalive.time");
        p.duration(cp.tcp.tcpKeepalive.interval, MIN, at + ".tcp.tcpKeepalive.interval");
      }
    }
    if (cp.http != null) {
      var h = cp.http;
      p.range(
          h.http1MaxPendingRequests, 0, Integer.MAX_VALUE, at + ".http.http1MaxPendingRequests");
      p.range(h.http2MaxRequests, 0, Integer.MAX_VALUE, at + ".http.http2MaxRequests");
      p.range(
          h.maxRequestsPerConnection, 0, Integer.MAX_VALUE, at + ".http.maxRequestsPerConnection");
      p.range(h.maxRetries, 0, Integer.MAX_VALUE, at + ".http.maxRetries");
      p.range(h.maxConcurrentStreams, 0, Integer.MAX_VALUE, at + ".http.maxConcurrentStreams");
      p.duration(h.idleTimeout, MIN, at + ".http.idleTimeout");
    }
  }

  private static void outlierDetection(OutlierDetection o, String at, Problems p) {
    if (o == null) {
      return;
    }
    p.range(o.consecutive5xxErrors, 0, Integer.MAX_VALUE, at + ".consecutive5xxErrors");
    p.range(o.consecutiveGatewayErrors, 0, Integer.MAX_VALUE, at + ".consecutiveGatewayErrors");
    p.range(
        o.consecutiveLocalOriginFailures,
        0,
        Integer.MAX_VALUE,
        at + ".consecutiveLocalOriginFailures");
    p.duration(o.interval, MIN, at + ".interval");
    p.duration(o.baseEjectionTime, MIN, at + ".baseEjectionTime");
    p.range(o.maxEjectionPercent, 0, 100, at + ".maxEjectionPercent");
    p.range(o.minHealthPercent, 0, 100, at + ".minHealthPercent");
  }

  private static void tls(ClientTLSSettings tls, String at, Problems p) {
    if (tls == null || tls.mode != ClientTLSSettings.TLSmode.MUTUAL || tls.credentialName != null) {
      return;
    }
    p.required(tls.clientCertificate, at + ".clientCertificate");
    p.required(tls.privateKey, at + ".privateKey");
  }
}
