package dev.mesh.proxy.cluster;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/** Picks the endpoint for one request, as Envoy's lb_policy of the same name does. */
public interface LoadBalancer {

  /** Picks from a non-empty list. */
  Endpoint pick(List<Endpoint> endpoints);

  static LoadBalancer of(io.envoyproxy.envoy.config.cluster.v3.Cluster.LbPolicy policy) {
    return switch (policy) {
      case RANDOM -> new Random();
      case LEAST_REQUEST -> new LeastRequest();
      default -> new RoundRobin();
    };
  }

  /** Weighted round robin: each endpoint gets turns in proportion to its weight. */
  final class RoundRobin implements LoadBalancer {
    private final AtomicLong next = new AtomicLong();

    @Override
    public Endpoint pick(List<Endpoint> endpoints) {
      int total = 0;
      for (Endpoint e : endpoints) {
        total += e.weight();
      }
      long turn = Math.floorMod(next.getAndIncrement(), (long) total);
      for (Endpoint e : endpoints) {
        turn -= e.weight();
        if (turn < 0) {
          return e;
        }
      }
      return endpoints.get(0);
    }
  }

  /** Weighted random. */
  final class Random implements LoadBalancer {
    @Override
    public Endpoint pick(List<Endpoint> endpoints) {
      int total = 0;
      for (Endpoint e : endpoints) {
        total += e.weight();
      }
      int r = ThreadLocalRandom.current().nextInt(total);
      for (Endpoint e : endpoints) {
        r -= e.weight();
        if (r < 0) {
          return e;
        }
      }
      return endpoints.get(0);
    }
  }

  /** Envoy's default least request: the better of two random choices (power of two choices). */
  final class LeastRequest implements LoadBalancer {
    @Override
    public Endpoint pick(List<Endpoint> endpoints) {
      ThreadLocalRandom r = ThreadLocalRandom.current();
      Endpoint a = endpoints.get(r.nextInt(endpoints.size()));
      Endpoint b = endpoints.get(r.nextInt(endpoints.size()));
      return a.activeRequests() <= b.activeRequests() ? a : b;
    }
  }
}
