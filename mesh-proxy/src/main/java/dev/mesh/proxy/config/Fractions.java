package dev.mesh.proxy.config;

import io.envoyproxy.envoy.type.v3.FractionalPercent;
import java.util.concurrent.ThreadLocalRandom;

/** Envoy's fractional percentages, as faults and mirrors sample requests with them. */
public final class Fractions {
  private Fractions() {}

  /** Whether this request falls in the fraction; an unset percentage is 0%, as in Envoy. */
  public static boolean hit(FractionalPercent p) {
    long denominator =
        switch (p.getDenominator()) {
          case TEN_THOUSAND -> 10_000;
          case MILLION -> 1_000_000;
          default -> 100;
        };
    return ThreadLocalRandom.current().nextLong(denominator) < p.getNumerator();
  }
}
