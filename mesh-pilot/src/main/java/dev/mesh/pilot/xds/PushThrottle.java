package dev.mesh.pilot.xds;

import dev.mesh.api.XdsTypes;
import io.envoyproxy.controlplane.cache.v3.Snapshot;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Pushes wait their turn so that what is sent and not yet answered stays bounded: at most a number
 * of first configs (Istio's PILOT_PUSH_THROTTLE) and at most a number of bytes of updates. A proxy
 * holds its share until it has answered, ACK or NACK, every response the push made (a first config:
 * until it answered all four types), or until a timeout. Waiting proxies keep their order and only
 * their latest config.
 *
 * <p>gRPC never refuses a message, so without this a change to a large resource (the route table of
 * a port with a thousand services) hands a thousand copies to the transport at once: they share
 * each connection's flow-control window, progress together and all arrive late, and all are held in
 * memory at the same time. A thousand new proxies (pilot or a node restarted) are the same case.
 * Small updates (an endpoint) are many to a budget, so they are hardly held at all.
 */
final class PushThrottle {
  /** The bounds: first configs at once, bytes of updates unanswered, and how long to wait. */
  record Limits(int firstConfigs, long updateBytes, long timeoutNanos) {}

  /** What the transport sent a proxy: its last nonce of a type, and its bytes so far. */
  interface Sent {
    String nonce(String proxy, String type);

    long bytes(String proxy);
  }

  private record Waiting(Snapshot snapshot, boolean first) {}

  private record Slot(long sinceNanos, boolean first, long bytes, Set<String> unanswered) {}

  private final Limits limits;
  private final BiConsumer<String, Snapshot> send;
  private final Sent sent;
  private final LinkedHashMap<String, Waiting> waiting = new LinkedHashMap<>();
  private final Map<String, Slot> inFlight = new HashMap<>();
  private int firstInFlight;
  private long bytesInFlight;

  /**
   * @param send hands a proxy's config to the cache, which answers its open watches at once
   */
  PushThrottle(Limits limits, BiConsumer<String, Snapshot> send, Sent sent) {
    this.limits = limits;
    this.send = send;
    this.sent = sent;
  }

  /** A new config for a proxy; {@code first} when it is the proxy's first. */
  synchronized void offer(String proxy, Snapshot snapshot, boolean first) {
    Waiting earlier = waiting.get(proxy);
    waiting.put(proxy, new Waiting(snapshot, first || earlier != null && earlier.first));
    drain();
  }

  /** The proxy answered (ACK or NACK) the last response of a type. */
  synchronized void answered(String proxy, String type) {
    Slot slot = inFlight.get(proxy);
    if (slot != null && slot.unanswered.remove(type) && slot.unanswered.isEmpty()) {
      release(proxy);
      drain();
    }
  }

  /** The proxy went away. */
  synchronized void forget(String proxy) {
    waiting.remove(proxy);
    if (inFlight.containsKey(proxy)) {
      release(proxy);
      drain();
    }
  }

  /** Frees the shares of proxies that did not answer in time. */
  synchronized void expire() {
    long now = System.nanoTime();
    boolean freed = false;
    for (String proxy : Set.copyOf(inFlight.keySet())) {
      if (now - inFlight.get(proxy).sinceNanos > limits.timeoutNanos()) {
        release(proxy);
        freed = true;
      }
    }
    if (freed) {
      drain();
    }
  }

  private void release(String proxy) {
    Slot slot = inFlight.remove(proxy);
    if (slot.first) {
      firstInFlight--;
    }
    bytesInFlight -= slot.bytes;
  }

  private void drain() {
    Iterator<Map.Entry<String, Waiting>> it = waiting.entrySet().iterator();
    while (it.hasNext()) {
      boolean firstsFull = firstInFlight >= limits.firstConfigs();
      boolean updatesFull = bytesInFlight >= limits.updateBytes();
      if (firstsFull && updatesFull) {
        return;
      }
      Map.Entry<String, Waiting> e = it.next();
      String proxy = e.getKey();
      boolean first = e.getValue().first;
      if (inFlight.containsKey(proxy) || (first ? firstsFull : updatesFull)) {
        continue; // its previous push is unanswered, or its kind has no room: it waits
      }
      it.remove();
      Map<String, String> nonces = new HashMap<>();
      for (String type : XdsTypes.TRAFFIC) {
        nonces.put(type, sent.nonce(proxy, type));
      }
      long bytesBefore = sent.bytes(proxy);
      send.accept(proxy, e.getValue().snapshot);
      Set<String> unanswered = new HashSet<>();
      for (String type : XdsTypes.TRAFFIC) {
        if (!sent.nonce(proxy, type).equals(nonces.get(type))) {
          unanswered.add(type);
        }
      }
      if (unanswered.isEmpty()) {
        continue; // nothing went out: there is nothing to wait for
      }
      long bytes = first ? 0 : sent.bytes(proxy) - bytesBefore;
      inFlight.put(proxy, new Slot(System.nanoTime(), first, bytes, unanswered));
      if (first) {
        firstInFlight++;
      }
      bytesInFlight += bytes;
    }
  }
}
