package dev.mesh.proxy.xds;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.secret.SecretManager;
import dev.mesh.proxy.secret.SecretSource;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryRequest;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Envoy's SDS client for an {@code api_config_source} of type GRPC: one state-of-the-world stream
 * of SecretDiscoveryService/StreamSecrets to the server behind a static cluster (Istio's {@code
 * sds-grpc}, the agent on a Unix socket), subscribed to every secret name this source's TLS
 * contexts use. Each response is validated whole and ACKed, or NACKed with the reason while the
 * last good secrets keep serving. A broken stream is retried with backoff.
 */
public final class SdsGrpcClient implements SecretSource {
  private static final Logger LOG = Logger.getLogger(SdsGrpcClient.class.getName());
  private static final String METHOD =
      "/envoy.service.secret.v3.SecretDiscoveryService/StreamSecrets";
  private static final long FIRST_BACKOFF_MS = 250;
  private static final long MAX_BACKOFF_MS = 30_000;

  private final String cluster;
  private final AdsClient.Target target;
  private final EventLoop loop;
  private final Node node;
  private final SecretManager secrets;
  private final String source;

  // Touched on the loop only.
  private GrpcStream stream;
  private Set<String> sentNames = Set.of();
  private String version = "";
  private String nonce = "";
  private String lastError;
  private long backoffMs = FIRST_BACKOFF_MS;
  private volatile boolean closed;

  public SdsGrpcClient(
      String cluster, AdsClient.Target target, EventLoop loop, Node node, SecretManager secrets) {
    this.cluster = cluster;
    this.target = target;
    this.loop = loop;
    this.node = node;
    this.secrets = secrets;
    this.source = SecretManager.grpcSource(cluster);
  }

  @Override
  public void subscriptionsChanged() {
    loop.execute(
        () -> {
          if (stream == null) {
            connectOnce();
          } else if (!secrets.names(source).equals(sentNames)) {
            send(null);
          }
        });
  }

  private boolean connecting;

  private void connectOnce() {
    if (connecting || closed) {
      return;
    }
    if (target.awaitsSecrets()) {
      // Never plaintext where the cluster says TLS: an SDS server behind TLS whose own secrets are
      // still due is tried again later.
      retryLater("its cluster's TLS secrets " + target.tls().secrets() + " are not in force");
      return;
    }
    connecting = true;
    GrpcStream.open(
        loop,
        target.channelType(),
        target.address(),
        target.authority(),
        METHOD,
        target.sslContext(),
        target.sni(),
        new GrpcStream.Listener() {
          @Override
          public void onMessage(ByteBuf message) {
            try {
              handle(DiscoveryResponse.parseFrom(message.nioBuffer()));
            } catch (InvalidProtocolBufferException e) {
              LOG.warning("SDS " + cluster + ": a response that does not parse: " + e.getMessage());
              return;
            }
            backoffMs = FIRST_BACKOFF_MS;
          }

          @Override
          public void onClose(int status, String message) {
            stream = null;
            retryLater("stream closed, grpc-status " + status + " (" + message + ")");
          }
        },
        opened -> {
          connecting = false;
          if (closed) {
            opened.cancel();
            return;
          }
          stream = opened;
          nonce = "";
          LOG.info("SDS: connected to cluster " + cluster + " at " + target.address());
          send(null);
        },
        failure -> {
          connecting = false;
          retryLater("cannot connect: " + failure.getMessage());
        });
  }

  private void retryLater(String why) {
    if (closed) {
      return;
    }
    long delay = backoffMs / 2 + ThreadLocalRandom.current().nextLong(backoffMs / 2 + 1);
    backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
    LOG.warning(
        "SDS "
            + cluster
            + ": "
            + why
            + "; retrying in "
            + delay
            + " ms, keeping the last good secrets");
    loop.schedule(this::connectOnce, delay, TimeUnit.MILLISECONDS);
  }

  private void send(String error) {
    GrpcStream s = stream;
    if (s == null) {
      return;
    }
    sentNames = secrets.names(source);
    DiscoveryRequest.Builder r =
        DiscoveryRequest.newBuilder()
            .setNode(node)
            .setTypeUrl(AdsClient.SDS)
            .setVersionInfo(version)
            .setResponseNonce(nonce)
            .addAllResourceNames(sentNames);
    if (error != null) {
      r.setErrorDetail(com.google.rpc.Status.newBuilder().setCode(3).setMessage(error));
    }
    s.send(r.build());
  }

  private void handle(DiscoveryResponse response) {
    nonce = response.getNonce();
    try {
      if (!response.getTypeUrl().equals(AdsClient.SDS)) {
        throw new ConfigRejectedException(
            "SDS response of type " + response.getTypeUrl() + ", expected " + AdsClient.SDS);
      }
      List<Secret> received = new ArrayList<>();
      for (Any any : response.getResourcesList()) {
        try {
          received.add(any.unpack(Secret.class));
        } catch (InvalidProtocolBufferException e) {
          throw new ConfigRejectedException(
              "resource of type " + any.getTypeUrl() + " in an SDS response");
        }
      }
      secrets.apply(source, received, response.getVersionInfo());
    } catch (ConfigRejectedException e) {
      String line =
          "SDS update version "
              + response.getVersionInfo()
              + " from cluster "
              + cluster
              + " rejected, keeping version '"
              + version
              + "': "
              + e.getMessage();
      if (!line.equals(lastError)) {
        LOG.warning(line);
      }
      lastError = line;
      send(e.getMessage());
      return;
    }
    version = response.getVersionInfo();
    lastError = null;
    send(null);
  }

  @Override
  public void close() {
    closed = true;
    loop.execute(
        () -> {
          if (stream != null) {
            stream.cancel();
          }
        });
  }
}
