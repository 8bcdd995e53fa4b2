package dev.mesh.proxy.tls;

import io.netty.handler.ssl.SslContext;

/**
 * A transport socket's TLS as connections take it: the context in force now (a new connection takes
 * it; open connections keep the one they started with), and whether it may serve yet.
 */
public interface TlsContext {
  /** The context for a new connection; null when its secrets never arrived. */
  SslContext current();

  /** False while an SDS secret it needs is still awaited (the listener or cluster warms). */
  boolean ready();

  /** Runs {@code r} each time the context changes or stops waiting. */
  void onChange(Runnable r);

  /** The names of the SDS secrets it is built from. */
  java.util.List<String> secrets();

  /** The certificate chain it presents now, for /certs; empty when it has none. */
  java.util.List<java.security.cert.X509Certificate> certificateChain();

  /** The CA certificates it trusts now, for /certs; empty when it verifies no peer. */
  java.util.List<java.security.cert.X509Certificate> trustedCa();

  /** The SNI to send (upstream only); empty for none. */
  String sni();
}
