package dev.mesh.proxy.tls;

import dev.mesh.proxy.config.ConfigRejectedException;
import io.netty.handler.ssl.SslContext;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * A TLS context rebuilt whenever one of its secrets changes. A context that cannot be built from a
 * new secret (which SDS validation let through) leaves the one in force serving, with a line in the
 * log naming the secret.
 */
final class SecretTlsContext implements TlsContext {
  private static final Logger LOG = Logger.getLogger(SecretTlsContext.class.getName());

  private final TlsSecrets secrets;
  private final Function<TlsSecrets.Material, SslContext> build;
  private final String where;
  private final String sni;
  private final List<Runnable> watchers = new CopyOnWriteArrayList<>();
  private volatile SslContext current;
  // Held here because secrets hold their watchers weakly: a replaced listener's context must not
  // stay reachable from a secret that outlives it.
  private final Runnable rebuilder = this::rebuild;

  SecretTlsContext(
      TlsSecrets secrets,
      Function<TlsSecrets.Material, SslContext> build,
      String where,
      String sni) {
    this.secrets = secrets;
    this.build = build;
    this.where = where;
    this.sni = sni;
    if (!secrets.dynamic()) {
      current = build.apply(secrets.material()); // static: a failure refuses the config
      return;
    }
    secrets.watch(rebuilder);
    rebuild();
  }

  private synchronized void rebuild() {
    if (secrets.complete()) {
      try {
        current = build.apply(secrets.material());
      } catch (ConfigRejectedException e) {
        LOG.warning(
            where
                + ": TLS context from secrets "
                + secrets.secretNames()
                + " not rebuilt, keeping the one in force: "
                + e.getMessage());
      }
    }
    watchers.forEach(Runnable::run);
  }

  @Override
  public SslContext current() {
    return current;
  }

  @Override
  public boolean ready() {
    return secrets.settled();
  }

  @Override
  public void onChange(Runnable r) {
    watchers.add(r);
  }

  @Override
  public List<String> secrets() {
    return secrets.secretNames();
  }

  @Override
  public List<java.security.cert.X509Certificate> certificateChain() {
    if (!secrets.complete()) {
      return List.of();
    }
    var cert = secrets.material().certificate();
    return cert == null ? List.of() : parse(cert.getCertificateChain());
  }

  @Override
  public List<java.security.cert.X509Certificate> trustedCa() {
    if (!secrets.complete()) {
      return List.of();
    }
    var vc = secrets.material().validation();
    return vc == null || !vc.hasTrustedCa() ? List.of() : parse(vc.getTrustedCa());
  }

  private List<java.security.cert.X509Certificate> parse(
      io.envoyproxy.envoy.config.core.v3.DataSource source) {
    try {
      return Pem.certificates(dev.mesh.proxy.config.DataSources.bytes(source, where));
    } catch (RuntimeException e) {
      return List.of(); // a file that went away since: the admin shows nothing rather than fail
    }
  }

  @Override
  public String sni() {
    return sni;
  }
}
