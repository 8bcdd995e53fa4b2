package dev.mesh.proxy.istio;

import com.google.protobuf.Struct;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Base64;

/**
 * Istio's metadata exchange over HTTP: a sidecar sends its own node metadata and id in {@code
 * x-envoy-peer-metadata} and {@code x-envoy-peer-metadata-id} (requests on the client side,
 * responses on the server side) and takes them off what it receives, so that each side's metrics
 * know the workload at the other end and the apps never see the headers.
 */
public final class PeerMetadataExchange {
  public static final String METADATA = "x-envoy-peer-metadata";
  public static final String METADATA_ID = "x-envoy-peer-metadata-id";

  private final String metadataHeader;
  private final String idHeader;
  private final Workload self;

  public PeerMetadataExchange(Node node) {
    Struct metadata = node.getMetadata();
    this.metadataHeader = Base64.getEncoder().encodeToString(metadata.toByteArray());
    this.idHeader = node.getId();
    this.self = Workload.of(metadata);
  }

  public Workload self() {
    return self;
  }

  /** Adds this sidecar's metadata to outgoing headers. */
  public void send(HttpHeaders headers) {
    headers.set(METADATA, metadataHeader);
    if (!idHeader.isEmpty()) {
      headers.set(METADATA_ID, idHeader);
    }
  }

  /** Takes the peer's metadata off incoming headers: the workload it describes. */
  public static Workload receive(HttpHeaders headers) {
    Workload peer = Workload.fromHeader(headers.get(METADATA));
    headers.remove(METADATA);
    headers.remove(METADATA_ID);
    return peer;
  }
}
