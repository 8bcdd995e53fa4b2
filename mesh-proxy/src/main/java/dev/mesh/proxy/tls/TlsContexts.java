package dev.mesh.proxy.tls;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.DataSources;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsParameters;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * Envoy's TLS transport socket as Netty SSL contexts: certificates and keys (PEM, PKCS#8) from
 * files or inline, a trusted CA to verify the peer, ALPN protocols and protocol versions. Without a
 * validation context an upstream is not verified, as in Envoy.
 */
public final class TlsContexts {
  private TlsContexts() {}

  /** The server context of a filter chain's transport_socket, or null for plaintext. */
  public static SslContext downstream(TransportSocket socket, String where) {
    if (socket.equals(TransportSocket.getDefaultInstance())) {
      return null;
    }
    DownstreamTlsContext tls = unpack(socket, DownstreamTlsContext.class, where);
    CommonTlsContext common = tls.getCommonTlsContext();
    if (common.getTlsCertificatesCount() != 1) {
      throw new ConfigRejectedException(
          where + ": a TLS listener needs exactly one tls_certificate");
    }
    TlsCertificate cert = common.getTlsCertificates(0);
    try {
      SslContextBuilder b =
          SslContextBuilder.forServer(
                  stream(cert.getCertificateChain(), where + " certificate_chain"),
                  stream(cert.getPrivateKey(), where + " private_key"))
              .sslProvider(SslProvider.JDK);
      if (common.getValidationContext().hasTrustedCa()) {
        b.trustManager(stream(common.getValidationContext().getTrustedCa(), where + " trusted_ca"));
        boolean required =
            tls.hasRequireClientCertificate() && tls.getRequireClientCertificate().getValue();
        b.clientAuth(required ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
      } else if (tls.hasRequireClientCertificate()
          && tls.getRequireClientCertificate().getValue()) {
        throw new ConfigRejectedException(
            where + ": require_client_certificate needs a validation_context with trusted_ca");
      }
      common(b, common);
      return b.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
    }
  }

  /** An upstream's client context and SNI, or null for plaintext. */
  public static Upstream upstream(TransportSocket socket, String where) {
    if (socket.equals(TransportSocket.getDefaultInstance())) {
      return null;
    }
    UpstreamTlsContext tls = unpack(socket, UpstreamTlsContext.class, where);
    CommonTlsContext common = tls.getCommonTlsContext();
    try {
      SslContextBuilder b = SslContextBuilder.forClient().sslProvider(SslProvider.JDK);
      if (common.getValidationContext().hasTrustedCa()) {
        b.trustManager(stream(common.getValidationContext().getTrustedCa(), where + " trusted_ca"));
      } else {
        b.trustManager(InsecureTrustManagerFactory.INSTANCE);
      }
      if (common.getTlsCertificatesCount() == 1) {
        TlsCertificate cert = common.getTlsCertificates(0);
        b.keyManager(
            stream(cert.getCertificateChain(), where + " certificate_chain"),
            stream(cert.getPrivateKey(), where + " private_key"));
      } else if (common.getTlsCertificatesCount() > 1) {
        throw new ConfigRejectedException(where + ": at most one tls_certificate is supported");
      }
      common(b, common);
      return new Upstream(b.build(), tls.getSni());
    } catch (SSLException | IllegalArgumentException e) {
      throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
    }
  }

  /** A client context and the SNI to send. */
  public record Upstream(SslContext context, String sni) {}

  private static void common(SslContextBuilder b, CommonTlsContext common) {
    if (common.getAlpnProtocolsCount() > 0) {
      b.applicationProtocolConfig(
          new ApplicationProtocolConfig(
              ApplicationProtocolConfig.Protocol.ALPN,
              ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
              ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
              common.getAlpnProtocolsList()));
    }
    TlsParameters p = common.getTlsParams();
    List<String> protocols = new ArrayList<>();
    int min = version(p.getTlsMinimumProtocolVersion(), 2);
    int max = version(p.getTlsMaximumProtocolVersion(), 3);
    for (int v = min; v <= max; v++) {
      protocols.add("TLSv1." + v);
    }
    b.protocols(protocols);
  }

  /** Envoy's TLS_AUTO means TLS 1.2 as the minimum and 1.3 as the maximum. */
  private static int version(TlsParameters.TlsProtocol v, int auto) {
    return switch (v) {
      case TLSv1_0 -> 0;
      case TLSv1_1 -> 1;
      case TLSv1_2 -> 2;
      case TLSv1_3 -> 3;
      default -> auto;
    };
  }

  private static <T extends com.google.protobuf.Message> T unpack(
      TransportSocket socket, Class<T> type, String where) {
    try {
      if (!socket.getTypedConfig().is(type)) {
        throw new ConfigRejectedException(
            where
                + ": transport socket "
                + socket.getTypedConfig().getTypeUrl()
                + " is not supported");
      }
      return socket.getTypedConfig().unpack(type);
    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
      throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
    }
  }

  private static InputStream stream(DataSource source, String where) {
    if (source.getSpecifierCase() == DataSource.SpecifierCase.SPECIFIER_NOT_SET) {
      throw new ConfigRejectedException(where + ": needs filename or inline_string");
    }
    return new ByteArrayInputStream(DataSources.bytes(source, where));
  }
}
