package dev.mesh.proxy.tls;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.config.DataSources;
import dev.mesh.proxy.secret.SecretManager;
import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsParameters;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Envoy's TLS transport socket as Netty SSL contexts: certificates and keys (PEM, PKCS#8) inline,
 * from files or over SDS, a trusted CA and subject alt name matchers to verify the peer, ALPN
 * protocols and protocol versions. Without a validation context an upstream is not verified, as in
 * Envoy.
 */
public final class TlsContexts {
  private TlsContexts() {}

  /** The server TLS of a filter chain's transport_socket, or null for plaintext. */
  public static TlsContext downstream(TransportSocket socket, SecretManager secrets, String where) {
    if (socket.equals(TransportSocket.getDefaultInstance())) {
      return null;
    }
    DownstreamTlsContext tls = unpack(socket, DownstreamTlsContext.class, where);
    CommonTlsContext common = tls.getCommonTlsContext();
    if (common.getTlsCertificatesCount() + common.getTlsCertificateSdsSecretConfigsCount() != 1) {
      throw new ConfigRejectedException(
          where + ": a TLS listener needs exactly one tls_certificate");
    }
    boolean required =
        tls.hasRequireClientCertificate() && tls.getRequireClientCertificate().getValue();
    checkMatchers(common, where);
    TlsSecrets material = new TlsSecrets(common, secrets, where);
    return new SecretTlsContext(material, m -> server(m, common, required, where), where, "");
  }

  /** An upstream's client TLS (with its SNI), or null for plaintext (none, or raw_buffer). */
  public static TlsContext upstream(TransportSocket socket, SecretManager secrets, String where) {
    if (socket.equals(TransportSocket.getDefaultInstance())
        || socket
            .getTypedConfig()
            .is(io.envoyproxy.envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer.class)) {
      return null;
    }
    UpstreamTlsContext tls = unpack(socket, UpstreamTlsContext.class, where);
    CommonTlsContext common = tls.getCommonTlsContext();
    checkMatchers(common, where);
    TlsSecrets material = new TlsSecrets(common, secrets, where);
    return new SecretTlsContext(
        material, m -> client(m, common, where), where, sendableSni(tls.getSni(), where));
  }

  private static final java.util.logging.Logger LOG =
      java.util.logging.Logger.getLogger(TlsContexts.class.getName());

  /**
   * The SNI as the JDK's TLS can send it. It refuses names outside letters, digits and hyphens,
   * such as Istio's {@code outbound_.9080_._.reviews...} (and a JDK server refuses them in a client
   * hello), so such a name is not sent: Envoy would send it; a sidecar's inbound side does not
   * match on it, gateways in sni-dnat mode would.
   */
  private static String sendableSni(String sni, String where) {
    if (sni.isEmpty()) {
      return sni;
    }
    try {
      new javax.net.ssl.SNIHostName(sni);
      return sni;
    } catch (IllegalArgumentException e) {
      LOG.warning(
          where
              + ": sni '"
              + sni
              + "' is not a host name the JDK's TLS can send ("
              + e.getMessage()
              + "); its connections go without SNI");
      return "";
    }
  }

  /** Refuses bad inline settings when the config arrives rather than when a secret does. */
  private static void checkMatchers(CommonTlsContext common, String where) {
    try {
      CipherSuites.jdkNames(common.getTlsParams().getCipherSuitesList(), false);
    } catch (IllegalArgumentException e) {
      throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
    }
    CertificateValidationContext vc =
        common.hasCombinedValidationContext()
            ? common.getCombinedValidationContext().getDefaultValidationContext()
            : common.getValidationContext();
    try {
      SanMatcher.of(vc);
    } catch (IllegalArgumentException e) {
      throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
    }
  }

  private static SslContext server(
      TlsSecrets.Material m, CommonTlsContext common, boolean required, String where) {
    TlsCertificate cert = m.certificate();
    try {
      SslContextBuilder b =
          SslContextBuilder.forServer(
                  key(cert, where), chain(cert, where).toArray(new X509Certificate[0]))
              .sslProvider(TlsLibrary.provider());
      TrustManager trust = trust(m.validation(), where);
      if (trust != null) {
        b.trustManager(trust);
        b.clientAuth(required ? ClientAuth.REQUIRE : ClientAuth.OPTIONAL);
      } else if (required) {
        throw new ConfigRejectedException(
            where + ": require_client_certificate needs a validation context with trusted_ca");
      }
      common(b, common);
      return b.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
    }
  }

  private static SslContext client(TlsSecrets.Material m, CommonTlsContext common, String where) {
    try {
      // Envoy checks no host name: the peer's identity is the SAN matchers' business.
      SslContextBuilder b =
          SslContextBuilder.forClient()
              .sslProvider(TlsLibrary.provider())
              .endpointIdentificationAlgorithm(null);
      TrustManager trust = trust(m.validation(), where);
      b.trustManager(
          trust != null ? trust : InsecureTrustManagerFactory.INSTANCE.getTrustManagers()[0]);
      if (m.certificate() != null) {
        b.keyManager(
            key(m.certificate(), where),
            chain(m.certificate(), where).toArray(new X509Certificate[0]));
      }
      common(b, common);
      return b.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new ConfigRejectedException(where + ": " + e.getMessage(), e);
    }
  }

  /**
   * The trusted CA and SAN matchers of a validation context, or null when it has no trusted_ca.
   * Matching SANs with no CA to vouch for them would trust any self-made certificate: refused, as
   * Envoy refuses it.
   */
  private static TrustManager trust(CertificateValidationContext vc, String where) {
    if (vc == null) {
      return null;
    }
    SanMatcher sans = SanMatcher.of(vc);
    if (!vc.hasTrustedCa()) {
      if (!sans.isEmpty()) {
        throw new ConfigRejectedException(
            where
                + ": SAN-based verification of peer certificates without trusted_ca is not"
                + " allowed");
      }
      return null;
    }
    List<X509Certificate> cas = Pem.certificates(bytes(vc.getTrustedCa(), where + " trusted_ca"));
    try {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      for (int i = 0; i < cas.size(); i++) {
        store.setCertificateEntry("ca-" + i, cas.get(i));
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(store);
      for (TrustManager t : tmf.getTrustManagers()) {
        if (t instanceof X509ExtendedTrustManager x) {
          return new VerifyingTrustManager(x, sans);
        }
      }
      throw new ConfigRejectedException(where + ": no X.509 trust manager for trusted_ca");
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new ConfigRejectedException(where + ": trusted_ca: " + e.getMessage(), e);
    }
  }

  private static PrivateKey key(TlsCertificate cert, String where) {
    return Pem.privateKey(bytes(cert.getPrivateKey(), where + " private_key"));
  }

  private static List<X509Certificate> chain(TlsCertificate cert, String where) {
    return Pem.certificates(bytes(cert.getCertificateChain(), where + " certificate_chain"));
  }

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
      protocols.add(v == 0 ? "TLSv1" : "TLSv1." + v); // the JDK's and OpenSSL's name for 1.0
    }
    b.protocols(protocols);
    if (p.getCipherSuitesCount() > 0) {
      b.ciphers(CipherSuites.jdkNames(p.getCipherSuitesList(), max >= 3));
    }
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

  private static byte[] bytes(DataSource source, String where) {
    if (source.getSpecifierCase() == DataSource.SpecifierCase.SPECIFIER_NOT_SET) {
      throw new ConfigRejectedException(where + ": needs filename or inline_string");
    }
    return DataSources.bytes(source, where);
  }
}
