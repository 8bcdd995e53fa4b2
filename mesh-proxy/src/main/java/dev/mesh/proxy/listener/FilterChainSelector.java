package dev.mesh.proxy.listener;

import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.net.Cidr;
import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.envoyproxy.envoy.config.listener.v3.FilterChainMatch;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;

/**
 * Envoy's filter chain selection: level by level (destination port, destination IP, server name,
 * transport protocol, application protocols), keep the chains whose criterion matches most
 * specifically, falling back to those that leave the criterion unset; the first left wins.
 */
final class FilterChainSelector {
  private FilterChainSelector() {}

  /** Index of the chosen chain, or -1. */
  static int select(List<FilterChainMatch> matches, ConnectionFacts c) {
    List<Integer> candidates = new ArrayList<>();
    for (int i = 0; i < matches.size(); i++) {
      candidates.add(i);
    }
    candidates =
        level(
            candidates,
            matches,
            m ->
                !m.hasDestinationPort()
                    ? 0
                    : m.getDestinationPort().getValue() == c.destination().getPort() ? 1 : -1);
    candidates =
        level(
            candidates,
            matches,
            m -> prefixScore(m.getPrefixRangesList(), c.destination().getAddress()));
    candidates =
        level(candidates, matches, m -> serverNameScore(m.getServerNamesList(), c.serverName()));
    candidates =
        level(
            candidates,
            matches,
            m ->
                m.getTransportProtocol().isEmpty()
                    ? 0
                    : m.getTransportProtocol().equals(c.transportProtocol()) ? 1 : -1);
    candidates =
        level(
            candidates,
            matches,
            m -> {
              if (m.getApplicationProtocolsCount() == 0) {
                return 0;
              }
              for (String p : m.getApplicationProtocolsList()) {
                if (c.applicationProtocols().contains(p)) {
                  return 1;
                }
              }
              return -1;
            });
    return candidates.isEmpty() ? -1 : candidates.get(0);
  }

  /** Keeps the candidates with the best non-negative score (0 means "criterion unset"). */
  private static List<Integer> level(
      List<Integer> candidates,
      List<FilterChainMatch> matches,
      ToIntFunction<FilterChainMatch> score) {
    int best = -1;
    for (int i : candidates) {
      best = Math.max(best, score.applyAsInt(matches.get(i)));
    }
    List<Integer> kept = new ArrayList<>();
    if (best < 0) {
      return kept;
    }
    for (int i : candidates) {
      if (score.applyAsInt(matches.get(i)) == best) {
        kept.add(i);
      }
    }
    return kept;
  }

  /** 0 without ranges; 1 + the longest matching prefix length; -1 when no range matches. */
  private static int prefixScore(List<CidrRange> ranges, InetAddress a) {
    if (ranges.isEmpty()) {
      return 0;
    }
    int best = -1;
    for (CidrRange r : ranges) {
      Cidr cidr;
      try {
        cidr = Cidr.of(r, "prefix_ranges");
      } catch (ConfigRejectedException notAnIpRange) {
        continue; // matches no address
      }
      if (cidr.contains(a)) {
        best = Math.max(best, 1 + cidr.bits());
      }
    }
    return best;
  }

  /** 0 without names; an exact name beats the longest matching wildcard ({@code *.suffix}). */
  private static int serverNameScore(List<String> names, String sni) {
    if (names.isEmpty()) {
      return 0;
    }
    int best = -1;
    for (String n : names) {
      if (n.equalsIgnoreCase(sni)) {
        best = Math.max(best, 1_000);
      } else if (n.startsWith("*.")
          && sni.length() > n.length() - 1
          && sni.toLowerCase().endsWith(n.substring(1).toLowerCase())) {
        best = Math.max(best, n.length());
      }
    }
    return best;
  }
}
