package dev.mesh.agent.identity;

import dev.mesh.agent.config.IdentitySettings;
import dev.mesh.api.SpiffeId;
import dev.mesh.security.Csr;
import dev.mesh.security.Pem;
import dev.mesh.security.WorkloadKeys;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The workload's certificate, Istio's way: an ECDSA P-256 key made in memory, a CSR with the pod's
 * SPIFFE id, CreateCertificate at pilot's CA over TLS with the projected token; the same again (a
 * new key each time, as Istio's agent) when the grace period of its life is reached, and after each
 * failure with a doubling wait. The mesh's roots are read from their mounted file, again whenever
 * it changes. Listeners hear of every new certificate and root.
 */
public final class WorkloadIdentity implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(WorkloadIdentity.class.getName());
  // Istio's bound on one certificate call (its secret cache's totalTimeout).
  static final Duration CALL_DEADLINE = Duration.ofSeconds(10);

  private final IdentitySettings settings;
  private final SpiffeId id;
  private final TokenFile token;
  private final CaClient ca;
  private final RotationSchedule schedule;
  private final ScheduledExecutorService timer;
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

  private volatile WorkloadCertificate certificate;
  private volatile RootBundle roots;
  private volatile String rootProblem;
  private int failures;
  private ScheduledFuture<?> next;
  private volatile boolean closed;

  public WorkloadIdentity(IdentitySettings settings, SpiffeId id) {
    if (settings.caAddress() == null) {
      throw new IllegalArgumentException(
          "CA_ADDR is not set and the discovery address names no CA host");
    }
    this.settings = settings;
    this.id = id;
    this.token = new TokenFile(settings.tokenPath());
    this.ca = new CaClient(settings.caAddress());
    this.schedule =
        new RotationSchedule(
            settings.gracePeriodRatio(),
            settings.gracePeriodJitter(),
            () -> ThreadLocalRandom.current().nextDouble());
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "mesh-agent-identity");
              t.setDaemon(true);
              return t;
            });
  }

  /** Called after every new certificate or root, on the identity's thread. */
  public void onChange(Runnable listener) {
    listeners.add(listener);
  }

  public SpiffeId id() {
    return id;
  }

  public String caAddress() {
    return ca.address();
  }

  /** The current certificate, none until the CA first answered. */
  public Optional<WorkloadCertificate> certificate() {
    return Optional.ofNullable(certificate);
  }

  /** The mesh's roots as PEM, none until their file was read. */
  public Optional<String> rootPem() {
    RootBundle r = roots;
    return r == null ? Optional.empty() : Optional.of(r.pem());
  }

  /** Starts asking for the certificate, now, and watching the root file. */
  public void start() {
    LOG.info(
        "workload identity "
            + id
            + ": certificates from CA "
            + ca.address()
            + " with the token "
            + settings.tokenPath()
            + ", roots from "
            + settings.rootCertPath()
            + ", lifetime asked "
            + settings.secretTtl()
            + ", rotation at "
            + settings.gracePeriodRatio()
            + " of it");
    timer.execute(this::checkRoots);
    long period = Math.max(10, settings.rootCheckPeriod().toMillis());
    timer.scheduleWithFixedDelay(this::checkRoots, period, period, TimeUnit.MILLISECONDS);
    synchronized (this) {
      next = timer.schedule(this::renew, 0, TimeUnit.MILLISECONDS);
    }
  }

  /** One attempt at a new certificate; schedules the next one, whatever happens. */
  private void renew() {
    if (closed) {
      return;
    }
    Duration wait;
    try {
      WorkloadCertificate c = request();
      certificate = c;
      failures = 0;
      wait = schedule.delay(c.received(), c.expires(), Instant.now());
      LOG.info(
          "workload certificate "
              + c.uris()
              + " from CA "
              + ca.address()
              + ": serial "
              + c.leaf().getSerialNumber().toString(16)
              + ", valid until "
              + c.expires()
              + ", renewed in "
              + wait.toMillis()
              + " ms");
      notifyListeners();
    } catch (RuntimeException e) {
      // IdentityException is expected and says itself; anything else is named by its class.
      String why = e instanceof IdentityException ? e.getMessage() : e.toString();
      failures++;
      wait = backoff(failures);
      String held =
          certificate == null
              ? "none held yet"
              : "the current one is valid until " + certificate.expires();
      LOG.warning(
          "workload certificate for "
              + id
              + ": "
              + why
              + " ("
              + held
              + "); attempt "
              + failures
              + ", retrying in "
              + wait.toMillis()
              + " ms");
    }
    synchronized (this) {
      if (!closed) {
        next = timer.schedule(this::renew, wait.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
  }

  private WorkloadCertificate request() {
    RootBundle trusted = roots;
    if (trusted == null) {
      throw new IdentityException(
          rootProblem != null ? rootProblem : "no root certificate at " + settings.rootCertPath());
    }
    String bearer = token.read();
    KeyPair keys = WorkloadKeys.ecdsaP256();
    String csr = Csr.build(keys, id);
    List<String> chain = ca.sign(trusted, bearer, csr, settings.secretTtl(), CALL_DEADLINE);
    if (chain.isEmpty()) {
      throw new IdentityException("CA " + ca.address() + " returned an empty certificate chain");
    }
    X509Certificate leaf;
    try {
      leaf = Pem.certificate(chain.get(0));
    } catch (IllegalArgumentException e) {
      throw new IdentityException(
          "CA " + ca.address() + " returned an unreadable certificate: " + e.getMessage());
    }
    if (!leaf.getPublicKey().equals(keys.getPublic())) {
      throw new IdentityException(
          "CA " + ca.address() + " returned a certificate for another key than the CSR's");
    }
    return new WorkloadCertificate(
        keys.getPrivate(), Pem.write(keys.getPrivate()), List.copyOf(chain), leaf, Instant.now());
  }

  private Duration backoff(int attempt) {
    long initial = Math.max(1, settings.retryInitial().toMillis());
    long max = Math.max(initial, settings.retryMax().toMillis());
    long ms = initial << Math.min(20, attempt - 1);
    return Duration.ofMillis(Math.min(max, ms));
  }

  /** Reads the root file; a new content replaces the roots and is announced. */
  private void checkRoots() {
    if (closed) {
      return;
    }
    RootBundle read;
    try {
      read = RootBundle.read(settings.rootCertPath());
    } catch (IdentityException e) {
      if (!e.getMessage().equals(rootProblem)) {
        rootProblem = e.getMessage();
        LOG.warning(
            "root certificates: "
                + e.getMessage()
                + (roots == null ? "" : "; keeping the ones read before"));
      }
      return;
    }
    rootProblem = null;
    RootBundle before = roots;
    if (read.equals(before)) {
      return;
    }
    roots = read;
    LOG.info(
        "root certificates "
            + settings.rootCertPath()
            + (before == null ? ": " : " changed: ")
            + read.certificates().size()
            + " loaded ("
            + read.certificates().get(0).getSubjectX500Principal().getName()
            + ")");
    notifyListeners();
  }

  private void notifyListeners() {
    for (Runnable l : listeners) {
      try {
        l.run();
      } catch (RuntimeException e) {
        LOG.warning("workload identity " + id + ": a listener failed: " + e);
      }
    }
  }

  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      if (next != null) {
        next.cancel(false);
      }
    }
    timer.shutdownNow();
    try {
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    ca.close();
  }
}
