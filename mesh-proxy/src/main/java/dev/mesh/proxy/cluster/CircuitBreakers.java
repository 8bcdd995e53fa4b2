package dev.mesh.proxy.cluster;

import io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers.Thresholds;
import io.envoyproxy.envoy.config.core.v3.RoutingPriority;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A cluster's circuit breakers, with Envoy's defaults (1024 connections, 1024 pending requests,
 * 1024 requests, 3 retries). Counts are cluster-wide, across event loops. A request that finds no
 * free connection waits as pending until one frees up, or overflows (503, flag UO) when the pending
 * queue is full.
 */
public final class CircuitBreakers {
  private final int maxConnections;
  private final int maxPending;
  private final int maxRequests;
  private final int maxRetries;
  final AtomicInteger connections = new AtomicInteger();
  private final AtomicInteger pending = new AtomicInteger();
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger retries = new AtomicInteger();
  private final Queue<Waiter> waiters = new ConcurrentLinkedQueue<>();

  /** A pending request: what to run, on its own event loop, once a connection may be had. */
  public record Waiter(Executor loop, Runnable retryAcquire) {}

  CircuitBreakers(io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers config) {
    Thresholds t = Thresholds.getDefaultInstance();
    for (Thresholds candidate : config.getThresholdsList()) {
      if (candidate.getPriority() == RoutingPriority.DEFAULT) {
        t = candidate;
      }
    }
    maxConnections = t.hasMaxConnections() ? t.getMaxConnections().getValue() : 1024;
    maxPending = t.hasMaxPendingRequests() ? t.getMaxPendingRequests().getValue() : 1024;
    maxRequests = t.hasMaxRequests() ? t.getMaxRequests().getValue() : 1024;
    maxRetries = t.hasMaxRetries() ? t.getMaxRetries().getValue() : 3;
  }

  /** Takes a request slot; false when max_requests is reached. */
  public boolean tryStartRequest() {
    return tryTake(requests, maxRequests);
  }

  public void requestDone() {
    requests.decrementAndGet();
  }

  public boolean tryStartRetry() {
    return tryTake(retries, maxRetries);
  }

  public void retryDone() {
    retries.decrementAndGet();
  }

  /** Takes a connection slot; false when max_connections is reached. */
  public boolean tryOpenConnection() {
    return tryTake(connections, maxConnections);
  }

  /** A connection closed: its slot goes to the oldest pending request. */
  public void connectionClosed() {
    connections.decrementAndGet();
    wakeOne();
  }

  /** Queues a request for a connection; false when max_pending_requests is reached. */
  public boolean tryWait(Waiter w) {
    if (!tryTake(pending, maxPending)) {
      return false;
    }
    waiters.add(w);
    // A connection may have freed up between the failed attempt and the queueing.
    if (connections.get() < maxConnections) {
      wakeOne();
    }
    return true;
  }

  /** True when requests are waiting, so a freed connection should be closed to hand its slot on. */
  public boolean hasWaiters() {
    return !waiters.isEmpty();
  }

  private void wakeOne() {
    Waiter w = waiters.poll();
    if (w != null) {
      pending.decrementAndGet();
      w.loop().execute(w.retryAcquire());
    }
  }

  public int pendingRequests() {
    return pending.get();
  }

  private static boolean tryTake(AtomicInteger counter, int max) {
    while (true) {
      int now = counter.get();
      if (now >= max) {
        return false;
      }
      if (counter.compareAndSet(now, now + 1)) {
        return true;
      }
    }
  }
}
