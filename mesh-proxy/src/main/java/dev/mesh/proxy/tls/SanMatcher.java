package dev.mesh.proxy.tls;

import dev.mesh.proxy.route.StringMatch;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;

/**
 * Envoy's subject alternative name check of a peer certificate: {@code
 * match_typed_subject_alt_names} (a SAN of the matcher's type must match it) and the older {@code
 * match_subject_alt_names} (any DNS, URI, email or IP SAN may match). The certificate passes when
 * any matcher matches; with no matchers every certificate passes.
 */
final class SanMatcher {
  private static final int EMAIL = 1;
  private static final int DNS = 2;
  private static final int URI = 6;
  private static final int IP = 7;

  private record Typed(List<Integer> types, Predicate<String> matcher) {}

  private final List<Typed> matchers;

  private SanMatcher(List<Typed> matchers) {
    this.matchers = matchers;
  }

  static SanMatcher of(CertificateValidationContext vc) {
    List<Typed> out = new ArrayList<>();
    for (SubjectAltNameMatcher m : vc.getMatchTypedSubjectAltNamesList()) {
      int type =
          switch (m.getSanType()) {
            case DNS -> DNS;
            case URI -> URI;
            case EMAIL -> EMAIL;
            case IP_ADDRESS -> IP;
            default ->
                throw new IllegalArgumentException(
                    "match_typed_subject_alt_names: san_type "
                        + m.getSanType()
                        + " is not supported");
          };
      out.add(new Typed(List.of(type), compile(m.getMatcher())));
    }
    for (StringMatcher m : vc.getMatchSubjectAltNamesList()) {
      out.add(new Typed(List.of(DNS, URI, EMAIL, IP), compile(m)));
    }
    return new SanMatcher(List.copyOf(out));
  }

  private static Predicate<String> compile(StringMatcher m) {
    if (m.getMatchPatternCase() == StringMatcher.MatchPatternCase.MATCHPATTERN_NOT_SET) {
      throw new IllegalArgumentException("a subject alt name matcher needs a pattern");
    }
    return StringMatch.of(m);
  }

  boolean isEmpty() {
    return matchers.isEmpty();
  }

  boolean matches(X509Certificate cert) {
    if (matchers.isEmpty()) {
      return true;
    }
    Collection<List<?>> sans;
    try {
      sans = cert.getSubjectAlternativeNames();
    } catch (CertificateParsingException e) {
      return false;
    }
    if (sans == null) {
      return false;
    }
    for (List<?> san : sans) {
      int type = (Integer) san.get(0);
      if (!(san.get(1) instanceof String value)) {
        continue; // other names come as DER, which no matcher here reads
      }
      for (Typed t : matchers) {
        if (t.types().contains(type) && t.matcher().test(value)) {
          return true;
        }
      }
    }
    return false;
  }
}
