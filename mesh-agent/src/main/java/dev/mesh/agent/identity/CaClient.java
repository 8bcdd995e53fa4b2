package dev.mesh.agent.identity;

import dev.mesh.security.CaCalls;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * Pilot's CA over TLS, trusting only the mesh's roots and checking that the server is named as
 * CA_ADDR says (istiod's certificate carries its service names). A new root means a new channel.
 */
final class CaClient implements AutoCloseable {
  private final String address;
  private final String host;
  private final int port;
  private RootBundle trusted;
  private ManagedChannel channel;

  CaClient(String address) {
    this.address = address;
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      throw new IllegalArgumentException("CA_ADDR must be host:port, got '" + address + "'");
    }
    this.host = address.substring(0, colon).replace("[", "").replace("]", "");
    try {
      this.port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("CA_ADDR has no port number: '" + address + "'");
    }
  }

  String address() {
    return address;
  }

  /**
   * Asks for a certificate for {@code csrPem}; the chain, leaf first. An IdentityException says
   * what went wrong in one line: unreachable, refused (the CA's status and message), or too slow.
   */
  synchronized List<String> sign(
      RootBundle roots, String token, String csrPem, Duration ttl, Duration deadline) {
    ManagedChannel ch = channel(roots);
    try {
      return CaCalls.createCertificate(ch, token, csrPem, ttl, deadline);
    } catch (StatusRuntimeException e) {
      Status s = e.getStatus();
      String what =
          switch (s.getCode()) {
            case UNAVAILABLE -> "CA " + address + " unreachable";
            case DEADLINE_EXCEEDED -> "CA " + address + " did not answer within " + deadline;
            default -> "CA " + address + " refused the request";
          };
      throw new IdentityException(
          what
              + ": "
              + s.getCode()
              + (s.getDescription() == null ? "" : " " + s.getDescription())
              + (s.getCause() == null ? "" : " (" + rootCause(s.getCause()) + ")"));
    }
  }

  private ManagedChannel channel(RootBundle roots) {
    if (channel != null && roots.equals(trusted)) {
      return channel;
    }
    closeChannel();
    try {
      channel =
          NettyChannelBuilder.forAddress(host, port)
              .sslContext(
                  GrpcSslContexts.forClient()
                      .trustManager(roots.certificates().toArray(new X509Certificate[0]))
                      .build())
              .build();
    } catch (SSLException e) {
      throw new IdentityException("cannot trust the root certificates: " + e.getMessage());
    }
    trusted = roots;
    return channel;
  }

  private static String rootCause(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return c.getClass().getSimpleName() + ": " + c.getMessage();
  }

  private void closeChannel() {
    if (channel != null) {
      channel.shutdownNow();
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      channel = null;
    }
  }

  @Override
  public synchronized void close() {
    closeChannel();
  }
}
