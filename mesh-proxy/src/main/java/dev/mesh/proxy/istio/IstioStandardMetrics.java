package dev.mesh.proxy.istio;

import dev.mesh.api.ClusterName;
import dev.mesh.proxy.stats.LabelledMetrics;
import dev.mesh.proxy.stats.LabelledMetrics.Labels;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.tls.PeerCertificate;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Istio's standard HTTP metrics with Istio's labels: istio_requests_total,
 * istio_request_duration_milliseconds, istio_request_bytes and istio_response_bytes, reported by
 * the client sidecar (reporter="source") and the server sidecar (reporter="destination").
 */
public final class IstioStandardMetrics {
  static final double[] DURATION_MS = {
    0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
    1800000, 3600000
  };
  static final double[] BYTES = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

  private final LabelledMetrics metrics;

  public IstioStandardMetrics(LabelledMetrics metrics) {
    this.metrics = metrics;
  }

  /**
   * What a side knows of the connection's security, as Istio's stats report it: the server side
   * (reporter destination) sees mutual_tls or none and both principals; the client side reports
   * unknown, its principals being in the upstream connection's handshake.
   */
  public record Security(String policy, String sourcePrincipal, String destinationPrincipal) {
    public static final Security SOURCE =
        new Security(Workload.UNKNOWN, Workload.UNKNOWN, Workload.UNKNOWN);
    public static final Security PLAINTEXT =
        new Security("none", Workload.UNKNOWN, Workload.UNKNOWN);

    /** What the server side of a downstream connection knows; SOURCE for the client side. */
    public static Security of(boolean inbound, ConnectionInfo connection) {
      if (!inbound) {
        return SOURCE;
      }
      PeerCertificate peer = connection == null ? null : connection.peerCertificate();
      if (peer == null || peer.uriSans().isEmpty()) {
        return PLAINTEXT;
      }
      PeerCertificate local = connection.localCertificate();
      return new Security(
          "mutual_tls",
          peer.uriSans().get(0),
          local == null || local.uriSans().isEmpty() ? Workload.UNKNOWN : local.uriSans().get(0));
    }
  }

  /** One finished request, as one side saw it. */
  public record Request(
      boolean inbound,
      Workload self,
      Workload peer,
      Security security,
      String destinationService,
      String protocol,
      int responseCode,
      String grpcStatus,
      String responseFlags,
      double durationMillis,
      long requestBytes,
      long responseBytes) {}

  public void record(Request r) {
    Map<String, String> l = peers(r.inbound, r.self, r.peer, r.destinationService, r.security);
    l.put("request_protocol", r.protocol);
    l.put("response_code", Integer.toString(r.responseCode));
    l.put("grpc_response_status", r.grpcStatus == null ? "" : r.grpcStatus);
    l.put("response_flags", r.responseFlags.isEmpty() ? "-" : r.responseFlags);
    l.put("connection_security_policy", r.security.policy());
    Labels labels = Labels.of(l);
    metrics.counter("istio_requests_total", labels).inc();
    metrics
        .histogram("istio_request_duration_milliseconds", labels, DURATION_MS)
        .record(r.durationMillis);
    metrics.histogram("istio_request_bytes", labels, BYTES).record(r.requestBytes);
    metrics.histogram("istio_response_bytes", labels, BYTES).record(r.responseBytes);
  }

  /** The labels of one TCP connection's series; the same for its open, close and byte counts. */
  public Labels tcpLabels(
      boolean inbound, Workload self, String destinationService, Security security) {
    Map<String, String> l =
        peers(inbound, self, Workload.UNKNOWN_PEER, destinationService, security);
    l.put("request_protocol", "tcp");
    l.put("response_flags", "-");
    l.put("connection_security_policy", security.policy());
    return Labels.of(l);
  }

  public void tcpOpened(Labels labels) {
    metrics.counter("istio_tcp_connections_opened_total", labels).inc();
  }

  /** A TCP connection closed, with the bytes it received from and sent to the downstream. */
  public void tcpClosed(Labels labels, long received, long sent) {
    metrics.counter("istio_tcp_connections_closed_total", labels).inc();
    metrics.counter("istio_tcp_received_bytes_total", labels).add(received);
    metrics.counter("istio_tcp_sent_bytes_total", labels).add(sent);
  }

  /** Istio's source and destination labels, from which side reports. */
  private static Map<String, String> peers(
      boolean inbound, Workload self, Workload peer, String destinationService, Security security) {
    Workload source = inbound ? peer : self;
    Workload destination = inbound ? self : peer;
    String service = destinationService.isEmpty() ? Workload.UNKNOWN : destinationService;
    String[] parts = service.split("\\.");
    Map<String, String> l = new LinkedHashMap<>();
    l.put("reporter", inbound ? "destination" : "source");
    l.put("source_workload", source.name());
    l.put("source_canonical_service", source.canonicalService());
    l.put("source_canonical_revision", source.canonicalRevision());
    l.put("source_workload_namespace", source.namespace());
    l.put("source_principal", security.sourcePrincipal());
    l.put("source_app", source.app());
    l.put("source_version", source.version());
    l.put("source_cluster", source.cluster());
    l.put("destination_workload", destination.name());
    l.put("destination_workload_namespace", destination.namespace());
    l.put("destination_principal", security.destinationPrincipal());
    l.put("destination_app", destination.app());
    l.put("destination_version", destination.version());
    l.put("destination_service", service);
    l.put("destination_canonical_service", destination.canonicalService());
    l.put("destination_canonical_revision", destination.canonicalRevision());
    l.put("destination_service_name", parts[0]);
    l.put("destination_service_namespace", parts.length > 1 ? parts[1] : destination.namespace());
    l.put("destination_cluster", destination.cluster());
    return l;
  }

  /**
   * The destination service of an outbound request: the host of an Istio cluster name ({@code
   * outbound|9080||reviews.default.svc.cluster.local}), else the cluster's name.
   */
  public static String serviceOfCluster(String cluster) {
    try {
      ClusterName name = ClusterName.parse(cluster);
      return name.host().isEmpty() ? cluster : name.host();
    } catch (IllegalArgumentException e) {
      return cluster;
    }
  }

  /** The destination service of an inbound request, from its authority and this namespace. */
  public static String serviceOfAuthority(String authority, String namespace) {
    String host = authority;
    int colon = host.lastIndexOf(':');
    if (colon > 0 && host.indexOf(']') < colon) {
      host = host.substring(0, colon);
    }
    if (host.isEmpty()) {
      return Workload.UNKNOWN;
    }
    return host.contains(".") || namespace.equals(Workload.UNKNOWN)
        ? host
        : host + "." + namespace + ".svc.cluster.local";
  }
}
