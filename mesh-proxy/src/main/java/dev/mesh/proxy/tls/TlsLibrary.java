package dev.mesh.proxy.tls;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import java.util.logging.Logger;

/**
 * The TLS library behind every SSL context the proxy builds, chosen once per process: BoringSSL
 * (netty-tcnative's static build, through Netty's OpenSSL provider) where its native library loads,
 * else the JDK's own TLS, with one warning naming why. {@code /server_info} names it, as Envoy's
 * version string ends in {@code /BoringSSL}.
 *
 * <p>{@link SslProvider#OPENSSL}, not {@code OPENSSL_REFCNT}: its engines and contexts are freed
 * when they become unreachable, so a context replaced by a secret rotation needs no release while
 * open connections still use it. Session resumption stays as with the JDK's server: TLS 1.3 tickets
 * (Netty turns them on per engine for TLS 1.3) and TLS 1.2's session cache.
 */
public final class TlsLibrary {
  private static final Logger LOG = Logger.getLogger(TlsLibrary.class.getName());

  private static final SslProvider PROVIDER = choose();

  private TlsLibrary() {}

  /** The Netty provider every context is built with. */
  public static SslProvider provider() {
    return PROVIDER;
  }

  /** "BoringSSL" or "JDK", as {@code /server_info}'s version names it. */
  public static String name() {
    return PROVIDER == SslProvider.JDK ? "JDK" : "BoringSSL";
  }

  private static SslProvider choose() {
    if (OpenSsl.isAvailable()) {
      return SslProvider.OPENSSL;
    }
    Throwable why = OpenSsl.unavailabilityCause();
    LOG.warning(
        "BoringSSL (netty-tcnative) is not available on "
            + System.getProperty("os.name")
            + "/"
            + System.getProperty("os.arch")
            + " ("
            + (why == null ? "no reason given" : why)
            + "); TLS uses the JDK's provider");
    return SslProvider.JDK;
  }
}
