package dev.mesh.proxy.filters.common.rbac;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.net.Cidr;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.route.RouteEntry;
import dev.mesh.proxy.route.StringMatch;
import dev.mesh.proxy.tls.PeerCertificate;
import io.envoyproxy.envoy.config.rbac.v3.Permission;
import io.envoyproxy.envoy.config.rbac.v3.Principal;
import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.type.matcher.v3.DoubleMatcher;
import io.envoyproxy.envoy.type.matcher.v3.MetadataMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.envoyproxy.envoy.type.matcher.v3.ValueMatcher;
import io.envoyproxy.envoy.type.v3.Int32Range;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.PatternSyntaxException;

/**
 * Envoy's RBAC permissions and principals (config/rbac/v3) compiled into predicates, as
 * filters/common/rbac/matchers.cc defines them. Every error names the field it is about.
 */
final class RbacMatchers {
  private RbacMatchers() {}

  static Predicate<RbacRequest> permission(Permission p, String at) {
    return switch (p.getRuleCase()) {
      case AND_RULES ->
          and(p.getAndRules().getRulesList(), at + ".and_rules.rules", RbacMatchers::permission);
      case OR_RULES ->
          or(p.getOrRules().getRulesList(), at + ".or_rules.rules", RbacMatchers::permission);
      case ANY -> always(p.getAny(), at + ".any");
      case HEADER -> header(p.getHeader(), at + ".header");
      case URL_PATH -> urlPath(p.getUrlPath().getPath(), at + ".url_path.path");
      case DESTINATION_IP ->
          ip(p.getDestinationIp(), at + ".destination_ip", c -> c.connection().localAddress());
      case DESTINATION_PORT -> port(p.getDestinationPort(), at + ".destination_port");
      case DESTINATION_PORT_RANGE ->
          portRange(p.getDestinationPortRange(), at + ".destination_port_range");
      case METADATA -> metadata(p.getMetadata(), at + ".metadata");
      case NOT_RULE -> permission(p.getNotRule(), at + ".not_rule").negate();
      case REQUESTED_SERVER_NAME -> {
        Predicate<String> sni = string(p.getRequestedServerName(), at + ".requested_server_name");
        yield r -> sni.test(r.connection().requestedServerName());
      }
      case RULE_NOT_SET -> throw new ConfigRejectedException(at + ": a permission needs a rule");
      default ->
          throw new ConfigRejectedException(
              at
                  + ": permission "
                  + p.getRuleCase().name().toLowerCase()
                  + " is not supported by mesh-proxy");
    };
  }

  static Predicate<RbacRequest> principal(Principal p, String at) {
    return switch (p.getIdentifierCase()) {
      case AND_IDS -> and(p.getAndIds().getIdsList(), at + ".and_ids.ids", RbacMatchers::principal);
      case OR_IDS -> or(p.getOrIds().getIdsList(), at + ".or_ids.ids", RbacMatchers::principal);
      case ANY -> always(p.getAny(), at + ".any");
      case AUTHENTICATED ->
          authenticated(
              p.getAuthenticated().hasPrincipalName()
                  ? p.getAuthenticated().getPrincipalName()
                  : null,
              at + ".authenticated.principal_name");
      // The connection's peer; this proxy keeps no address other than the socket's, so the
      // direct remote and the remote address are that peer too (no XFF-derived client address).
      case SOURCE_IP -> ip(p.getSourceIp(), at + ".source_ip", c -> c.connection().remoteAddress());
      case DIRECT_REMOTE_IP ->
          ip(p.getDirectRemoteIp(), at + ".direct_remote_ip", c -> c.connection().remoteAddress());
      case REMOTE_IP -> ip(p.getRemoteIp(), at + ".remote_ip", c -> c.connection().remoteAddress());
      case HEADER -> header(p.getHeader(), at + ".header");
      case URL_PATH -> urlPath(p.getUrlPath().getPath(), at + ".url_path.path");
      case METADATA -> metadata(p.getMetadata(), at + ".metadata");
      case NOT_ID -> principal(p.getNotId(), at + ".not_id").negate();
      case IDENTIFIER_NOT_SET ->
          throw new ConfigRejectedException(at + ": a principal needs an identifier");
      default ->
          throw new ConfigRejectedException(
              at
                  + ": principal "
                  + p.getIdentifierCase().name().toLowerCase()
                  + " is not supported by mesh-proxy");
    };
  }

  private static <T> Predicate<RbacRequest> and(List<T> items, String at, Compiler<T> compile) {
    List<Predicate<RbacRequest>> all = compileAll(items, at, compile);
    return r -> {
      for (Predicate<RbacRequest> p : all) {
        if (!p.test(r)) {
          return false;
        }
      }
      return true;
    };
  }

  private static <T> Predicate<RbacRequest> or(List<T> items, String at, Compiler<T> compile) {
    List<Predicate<RbacRequest>> any = compileAll(items, at, compile);
    return r -> {
      for (Predicate<RbacRequest> p : any) {
        if (p.test(r)) {
          return true;
        }
      }
      return false;
    };
  }

  /** A compile step for one kind of item (permission or principal). */
  @FunctionalInterface
  interface Compiler<T> {
    Predicate<RbacRequest> compile(T item, String at);
  }

  static <T> List<Predicate<RbacRequest>> compileAll(List<T> items, String at, Compiler<T> c) {
    if (items.isEmpty()) {
      throw new ConfigRejectedException(at + ": needs at least one item");
    }
    List<Predicate<RbacRequest>> out = new ArrayList<>(items.size());
    for (int i = 0; i < items.size(); i++) {
      out.add(c.compile(items.get(i), at + "[" + i + "]"));
    }
    return List.copyOf(out);
  }

  private static Predicate<RbacRequest> always(boolean any, String at) {
    if (!any) {
      throw new ConfigRejectedException(at + ": must be true");
    }
    return r -> true;
  }

  private static Predicate<RbacRequest> header(HeaderMatcher h, String at) {
    String regex =
        switch (h.getHeaderMatchSpecifierCase()) {
          case SAFE_REGEX_MATCH -> ".safe_regex_match.regex";
          case STRING_MATCH -> ".string_match.safe_regex.regex";
          default -> "";
        };
    Predicate<RequestView> p;
    try {
      p = RouteEntry.headerMatcher(h);
    } catch (PatternSyntaxException e) {
      throw badRegex(at + regex, e);
    }
    return r -> p.test(r.headers());
  }

  /** Envoy's PathMatcher: the path without query and fragment; nothing without a request. */
  private static Predicate<RbacRequest> urlPath(StringMatcher m, String at) {
    Predicate<String> p = string(m, at);
    return r -> {
      if (r.request() == null) {
        return false;
      }
      String path = r.request().path();
      int fragment = path.indexOf('#');
      return p.test(fragment < 0 ? path : path.substring(0, fragment));
    };
  }

  private static Predicate<RbacRequest> ip(
      io.envoyproxy.envoy.config.core.v3.CidrRange range,
      String at,
      Function<RbacRequest, InetSocketAddress> address) {
    Cidr cidr = Cidr.of(range, at);
    return r -> cidr.contains(address.apply(r));
  }

  private static Predicate<RbacRequest> port(int port, String at) {
    if (port < 0 || port > 65535) {
      throw new ConfigRejectedException(at + ": " + port + " is not a port");
    }
    return r -> {
      InetSocketAddress local = r.connection().localAddress();
      return local != null && local.getPort() == port;
    };
  }

  /** Envoy's port range: start inclusive, end exclusive. */
  private static Predicate<RbacRequest> portRange(Int32Range range, String at) {
    int start = range.getStart();
    int end = range.getEnd();
    if (start < 0 || start > 65536 || end < 0 || end > 65536) {
      throw new ConfigRejectedException(at + ": range " + start + "-" + end + " is out of bounds");
    }
    if (start >= end) {
      throw new ConfigRejectedException(
          at + ": range start " + start + " cannot be greater or equal than range end " + end);
    }
    return r -> {
      InetSocketAddress local = r.connection().localAddress();
      return local != null && start <= local.getPort() && local.getPort() < end;
    };
  }

  /**
   * The peer's certificate: any TLS connection when no name is given; else its URI SANs, then its
   * DNS SANs, then its subject, as Envoy's AuthenticatedMatcher.
   */
  private static Predicate<RbacRequest> authenticated(StringMatcher name, String at) {
    Predicate<String> p = name == null ? null : string(name, at);
    return r -> {
      PeerCertificate peer = r.connection().peerCertificate();
      if (peer == null) {
        return false;
      }
      if (p == null) {
        return true;
      }
      for (String uri : peer.uriSans()) {
        if (p.test(uri)) {
          return true;
        }
      }
      for (String dns : peer.dnsSans()) {
        if (p.test(dns)) {
          return true;
        }
      }
      return p.test(peer.subject());
    };
  }

  /** Envoy's MetadataMatcher on the stream's dynamic metadata. */
  private static Predicate<RbacRequest> metadata(MetadataMatcher m, String at) {
    if (m.getFilter().isEmpty()) {
      throw new ConfigRejectedException(at + ".filter: must be set");
    }
    if (m.getPathCount() == 0) {
      throw new ConfigRejectedException(at + ".path: needs at least one segment");
    }
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < m.getPathCount(); i++) {
      keys.add(m.getPath(i).getKey());
    }
    Predicate<Value> value = value(m.getValue(), at + ".value");
    boolean invert = m.getInvert();
    String filter = m.getFilter();
    return r -> value.test(lookup(r.dynamicMetadata(filter), keys)) != invert;
  }

  /** The value at a path of keys, or an unset Value when any step is missing. */
  private static Value lookup(Struct root, List<String> keys) {
    if (root == null) {
      return Value.getDefaultInstance();
    }
    Value v = Value.newBuilder().setStructValue(root).build();
    for (String k : keys) {
      if (!v.hasStructValue() || !v.getStructValue().containsFields(k)) {
        return Value.getDefaultInstance();
      }
      v = v.getStructValue().getFieldsOrThrow(k);
    }
    return v;
  }

  private static Predicate<Value> value(ValueMatcher m, String at) {
    return switch (m.getMatchPatternCase()) {
      case NULL_MATCH -> v -> v.getKindCase() == Value.KindCase.NULL_VALUE;
      case DOUBLE_MATCH -> {
        DoubleMatcher d = m.getDoubleMatch();
        yield switch (d.getMatchPatternCase()) {
          case EXACT ->
              v ->
                  v.getKindCase() == Value.KindCase.NUMBER_VALUE
                      && v.getNumberValue() == d.getExact();
          case RANGE ->
              v ->
                  v.getKindCase() == Value.KindCase.NUMBER_VALUE
                      && d.getRange().getStart() <= v.getNumberValue()
                      && v.getNumberValue() < d.getRange().getEnd();
          default -> throw new ConfigRejectedException(at + ".double_match: needs exact or range");
        };
      }
      case STRING_MATCH -> {
        Predicate<String> s = string(m.getStringMatch(), at + ".string_match");
        yield v -> v.getKindCase() == Value.KindCase.STRING_VALUE && s.test(v.getStringValue());
      }
      case BOOL_MATCH ->
          v -> v.getKindCase() == Value.KindCase.BOOL_VALUE && v.getBoolValue() == m.getBoolMatch();
      case PRESENT_MATCH ->
          v -> m.getPresentMatch() && v.getKindCase() != Value.KindCase.KIND_NOT_SET;
      case LIST_MATCH -> {
        Predicate<Value> one = value(m.getListMatch().getOneOf(), at + ".list_match.one_of");
        yield v ->
            v.getKindCase() == Value.KindCase.LIST_VALUE
                && v.getListValue().getValuesList().stream().anyMatch(one);
      }
      default -> throw new ConfigRejectedException(at + ": a value matcher needs a match pattern");
    };
  }

  /** A StringMatcher; a regex that does not compile is refused naming its field. */
  static Predicate<String> string(StringMatcher m, String at) {
    if (m.getMatchPatternCase() == StringMatcher.MatchPatternCase.MATCHPATTERN_NOT_SET) {
      throw new ConfigRejectedException(at + ": a string matcher needs a match pattern");
    }
    try {
      return StringMatch.of(m);
    } catch (PatternSyntaxException e) {
      throw badRegex(at + ".safe_regex.regex", e);
    }
  }

  private static ConfigRejectedException badRegex(String at, PatternSyntaxException e) {
    return new ConfigRejectedException(
        at + ": invalid regex '" + e.getPattern() + "': " + e.getDescription(), e);
  }
}
