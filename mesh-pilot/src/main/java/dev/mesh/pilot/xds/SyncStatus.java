package dev.mesh.pilot.xds;

import dev.mesh.api.XdsTypes;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What each proxy was sent and what it answered, per xDS type: the last version and nonce sent, the
 * last version it ACKed, and its last NACK with the error it gave. Istio's /debug/syncz.
 */
public final class SyncStatus {
  /** One proxy and type. */
  public static final class TypeSync {
    public volatile String sentVersion = "";
    public volatile String sentNonce = "";
    public volatile String ackedVersion = "";
    public volatile String nackedVersion;
    public volatile String nackError;
    public volatile long sentAtMillis;
    // All this type's responses to this proxy, in bytes.
    public volatile long sentBytes;

    /** Istio's proxy-status words: SYNCED, STALE (sent, not yet ACKed, or NACKed), NOT SENT. */
    public String state() {
      if (sentNonce.isEmpty()) {
        return "NOT SENT";
      }
      return sentVersion.equals(ackedVersion) && nackError == null ? "SYNCED" : "STALE";
    }
  }

  private final Map<String, Map<String, TypeSync>> byProxy = new ConcurrentHashMap<>();

  TypeSync of(String proxy, String typeUrl) {
    return byProxy
        .computeIfAbsent(proxy, p -> new ConcurrentHashMap<>())
        .computeIfAbsent(XdsTypes.shortName(typeUrl), t -> new TypeSync());
  }

  /** The last nonce sent to a proxy for a type, or "" when none was. */
  String sentNonce(String proxy, String typeUrl) {
    Map<String, TypeSync> types = byProxy.get(proxy);
    TypeSync t = types == null ? null : types.get(XdsTypes.shortName(typeUrl));
    return t == null ? "" : t.sentNonce;
  }

  /** What was sent to a proxy so far, all types, in bytes. */
  long sentBytes(String proxy) {
    Map<String, TypeSync> types = byProxy.get(proxy);
    long sum = 0;
    if (types != null) {
      for (TypeSync t : types.values()) {
        sum += t.sentBytes;
      }
    }
    return sum;
  }

  void forget(String proxy) {
    byProxy.remove(proxy);
  }

  /** A copy, sorted by proxy and type. */
  public Map<String, Map<String, TypeSync>> all() {
    Map<String, Map<String, TypeSync>> out = new TreeMap<>();
    byProxy.forEach((p, types) -> out.put(p, new TreeMap<>(types)));
    return out;
  }
}
