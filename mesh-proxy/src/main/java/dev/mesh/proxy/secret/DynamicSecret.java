package dev.mesh.proxy.secret;

import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.Secret;
import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A secret subscribed from one source, or a static one: the last good version and those waiting for
 * it. Updates arrive already validated; a refused one never reaches here, so the last good secret
 * keeps serving.
 */
final class DynamicSecret implements SecretProvider {
  private final String source;
  private final String name;
  // Weak: a listener or cluster that was replaced must not be kept alive by a secret it used.
  private final List<WeakReference<Runnable>> watchers = new CopyOnWriteArrayList<>();
  private volatile Secret current;
  private volatile String version = "";
  private volatile long lastUpdatedMillis;
  private volatile boolean timedOut;

  DynamicSecret(String source, String name) {
    this.source = source;
    this.name = name;
  }

  static DynamicSecret fixed(Secret secret) {
    DynamicSecret s = new DynamicSecret(SecretManager.STATIC, secret.getName());
    s.current = secret;
    s.lastUpdatedMillis = System.currentTimeMillis();
    return s;
  }

  @Override
  public String name() {
    return name;
  }

  String source() {
    return source;
  }

  @Override
  public Secret current() {
    return current;
  }

  String version() {
    return version;
  }

  long lastUpdatedMillis() {
    return lastUpdatedMillis;
  }

  @Override
  public boolean settled() {
    return current != null || timedOut;
  }

  @Override
  public void watch(Runnable onChange) {
    watchers.add(new WeakReference<>(onChange));
  }

  /** Replaces the secret; false when it is the one in force already (nothing to tell anyone). */
  boolean update(Secret secret, String version) {
    this.version = version;
    if (secret.equals(current)) {
      return false;
    }
    current = secret;
    lastUpdatedMillis = System.currentTimeMillis();
    return true;
  }

  void initialFetchTimedOut() {
    if (current == null) {
      timedOut = true;
      notifyWatchers();
    }
  }

  void notifyWatchers() {
    for (WeakReference<Runnable> w : watchers) {
      Runnable r = w.get();
      if (r == null) {
        watchers.remove(w);
      } else {
        r.run();
      }
    }
  }
}
