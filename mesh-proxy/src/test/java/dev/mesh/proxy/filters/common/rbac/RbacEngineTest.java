package dev.mesh.proxy.filters.common.rbac;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.route.RequestView;
import dev.mesh.proxy.stream.ConnectionInfo;
import dev.mesh.proxy.stream.StreamInfo;
import io.envoyproxy.envoy.config.rbac.v3.RBAC;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The RBAC engine on its own: each permission and principal kind, and what ALLOW, DENY and LOG do
 * with a match, as Envoy's filters/common/rbac defines them. Requests are built on Netty's embedded
 * channel with the addresses a TCP connection would have.
 */
class RbacEngineTest {
  /** A channel with the addresses of an accepted TCP connection. */
  static final class Connection extends EmbeddedChannel {
    private final InetSocketAddress local;
    private final InetSocketAddress remote;

    Connection(String remoteIp, String localIp, int localPort) {
      super(false, false);
      this.local = new InetSocketAddress(localIp, localPort);
      this.remote = new InetSocketAddress(remoteIp, 40000);
      try {
        register();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    protected SocketAddress localAddress0() {
      return local;
    }

    @Override
    protected SocketAddress remoteAddress0() {
      return remote;
    }
  }

  Connection channel = new Connection("10.1.2.3", "10.9.9.9", 8080);

  @AfterEach
  void close() {
    channel.finishAndReleaseAll();
  }

  static RBAC rules(String json) {
    RBAC.Builder b = RBAC.newBuilder();
    try {
      JsonFormat.parser().merge(json, b);
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
    return b.build();
  }

  static RbacEngine engine(String json) {
    return RbacEngine.of(true, rules(json), "rules");
  }

  /** An ALLOW engine of one policy "p" with this permission and principal. */
  static RbacEngine allow(String permission, String principal) {
    return engine(
        """
        {"action": "ALLOW", "policies": {"p": {"permissions": [%s], "principals": [%s]}}}
        """
            .formatted(permission, principal));
  }

  static final String ANY = "{\"any\": true}";

  RbacRequest request(String method, String uri, String... headers) {
    HttpHeaders h = new DefaultHttpHeaders();
    for (int i = 0; i < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1]);
    }
    ConnectionInfo info = ConnectionInfo.of(channel);
    return RbacRequest.http(
        info, RequestView.of("svc.local", method, uri, h), new StreamInfo(info, "HTTP/1.1"));
  }

  boolean allowed(RbacEngine e, RbacRequest r) {
    return e.evaluate(r, false).allowed();
  }

  @Test
  void headerAndUrlPathPermissions() {
    RbacEngine e =
        allow(
            """
            {"and_rules": {"rules": [
              {"header": {"name": ":method", "string_match": {"exact": "GET"}}},
              {"url_path": {"path": {"prefix": "/x"}}}]}}
            """,
            ANY);
    assertThat(allowed(e, request("GET", "/x/1?q=2"))).isTrue();
    assertThat(allowed(e, request("POST", "/x"))).isFalse();
    assertThat(allowed(e, request("GET", "/y"))).isFalse();
    // url_path ignores the query, a :path header matcher sees it.
    RbacEngine exact = allow("{\"url_path\": {\"path\": {\"exact\": \"/x\"}}}", ANY);
    assertThat(allowed(exact, request("GET", "/x?a=b"))).isTrue();
    RbacEngine pathHeader =
        allow("{\"header\": {\"name\": \":path\", \"string_match\": {\"exact\": \"/x\"}}}", ANY);
    assertThat(allowed(pathHeader, request("GET", "/x?a=b"))).isFalse();
  }

  @Test
  void orNotAndAnyPermissions() {
    RbacEngine e =
        allow(
            """
            {"or_rules": {"rules": [
              {"url_path": {"path": {"exact": "/a"}}},
              {"not_rule": {"header": {"name": "x-user", "present_match": true}}}]}}
            """,
            ANY);
    assertThat(allowed(e, request("GET", "/a", "x-user", "bob"))).isTrue();
    assertThat(allowed(e, request("GET", "/b"))).isTrue();
    assertThat(allowed(e, request("GET", "/b", "x-user", "bob"))).isFalse();
    assertThat(allowed(allow(ANY, ANY), request("DELETE", "/anything"))).isTrue();
  }

  @Test
  void destinationAddressPortAndServerName() {
    assertThat(
            allowed(
                allow(
                    "{\"destination_ip\": {\"address_prefix\": \"10.9.0.0\", \"prefix_len\": 16}}",
                    ANY),
                request("GET", "/")))
        .isTrue();
    assertThat(
            allowed(
                allow(
                    "{\"destination_ip\": {\"address_prefix\": \"10.8.0.0\", \"prefix_len\": 16}}",
                    ANY),
                request("GET", "/")))
        .isFalse();
    assertThat(allowed(allow("{\"destination_port\": 8080}", ANY), request("GET", "/"))).isTrue();
    assertThat(allowed(allow("{\"destination_port\": 9080}", ANY), request("GET", "/"))).isFalse();
    // A port range includes its start and excludes its end.
    assertThat(
            allowed(
                allow("{\"destination_port_range\": {\"start\": 8080, \"end\": 8081}}", ANY),
                request("GET", "/")))
        .isTrue();
    assertThat(
            allowed(
                allow("{\"destination_port_range\": {\"start\": 8000, \"end\": 8080}}", ANY),
                request("GET", "/")))
        .isFalse();
    ConnectionInfo.of(channel).setRequestedServerName("reviews.default.svc");
    assertThat(
            allowed(
                allow("{\"requested_server_name\": {\"suffix\": \".default.svc\"}}", ANY),
                request("GET", "/")))
        .isTrue();
    assertThat(
            allowed(
                allow("{\"requested_server_name\": {\"exact\": \"ratings\"}}", ANY),
                request("GET", "/")))
        .isFalse();
  }

  @Test
  void sourceAddressPrincipals() {
    for (String kind : new String[] {"source_ip", "direct_remote_ip", "remote_ip"}) {
      RbacEngine in =
          allow(
              ANY,
              "{\"%s\": {\"address_prefix\": \"10.1.2.0\", \"prefix_len\": 24}}".formatted(kind));
      RbacEngine out = allow(ANY, "{\"%s\": {\"address_prefix\": \"10.1.3.3\"}}".formatted(kind));
      assertThat(allowed(in, request("GET", "/"))).as(kind).isTrue();
      assertThat(allowed(out, request("GET", "/"))).as(kind).isFalse();
    }
  }

  @Test
  void andOrNotHeaderAndUrlPathPrincipals() {
    RbacEngine e =
        allow(
            ANY,
            """
            {"and_ids": {"ids": [
              {"or_ids": {"ids": [
                {"header": {"name": "x-team", "string_match": {"exact": "blue"}}},
                {"url_path": {"path": {"safe_regex": {"regex": "/admin/.*"}}}}]}},
              {"not_id": {"header": {"name": "x-banned", "present_match": true}}}]}}
            """);
    assertThat(allowed(e, request("GET", "/", "x-team", "blue"))).isTrue();
    assertThat(allowed(e, request("GET", "/admin/users"))).isTrue();
    assertThat(allowed(e, request("GET", "/", "x-team", "red"))).isFalse();
    assertThat(allowed(e, request("GET", "/", "x-team", "blue", "x-banned", "1"))).isFalse();
  }

  @Test
  void authenticatedNeedsATlsConnection() {
    RbacEngine anyPeer = allow(ANY, "{\"authenticated\": {}}");
    RbacEngine named =
        allow(
            ANY,
            "{\"authenticated\": {\"principal_name\": {\"exact\": \"spiffe://cluster.local/ns/default/sa/a\"}}}");
    assertThat(allowed(anyPeer, request("GET", "/"))).isFalse();
    assertThat(allowed(named, request("GET", "/"))).isFalse();
  }

  @Test
  void metadataMatchesTheStreamsDynamicMetadata() {
    RbacEngine e =
        allow(
            """
            {"metadata": {"filter": "istio_authn", "path": [{"key": "request.auth.claims"}, {"key": "groups"}],
              "value": {"list_match": {"one_of": {"string_match": {"exact": "admins"}}}}}}
            """,
            ANY);
    RbacRequest without = request("GET", "/");
    assertThat(allowed(e, without)).isFalse();
    RbacRequest with = request("GET", "/");
    with.setDynamicMetadata(
        "istio_authn",
        Struct.newBuilder()
            .putFields(
                "request.auth.claims",
                Value.newBuilder()
                    .setStructValue(
                        Struct.newBuilder()
                            .putFields(
                                "groups",
                                Value.newBuilder()
                                    .setListValue(
                                        com.google.protobuf.ListValue.newBuilder()
                                            .addValues(Value.newBuilder().setStringValue("users"))
                                            .addValues(Value.newBuilder().setStringValue("admins")))
                                    .build()))
                    .build())
            .build());
    assertThat(allowed(e, with)).isTrue();
    RbacEngine inverted =
        allow(
            """
            {"metadata": {"filter": "istio_authn", "path": [{"key": "absent"}],
              "value": {"present_match": true}, "invert": true}}
            """,
            ANY);
    assertThat(allowed(inverted, with)).isTrue();
  }

  @Test
  void allowAllowsOnlyWhatAPolicyMatches() {
    RbacEngine e = allow("{\"url_path\": {\"path\": {\"exact\": \"/x\"}}}", ANY);
    assertThat(e.evaluate(request("GET", "/x"), false)).isEqualTo(new RbacEngine.Result(true, "p"));
    assertThat(e.evaluate(request("GET", "/y"), false))
        .isEqualTo(new RbacEngine.Result(false, null));
  }

  @Test
  void anAllowRuleSetWithoutPoliciesDeniesEverything() {
    RbacEngine e = engine("{\"action\": \"ALLOW\"}");
    assertThat(allowed(e, request("GET", "/"))).isFalse();
    // The rules field absent: no engine, nothing enforced.
    assertThat(RbacEngine.of(false, RBAC.getDefaultInstance(), "rules")).isNull();
  }

  @Test
  void denyDeniesWhatAPolicyMatchesAndNamesTheFirstPolicyByName() {
    RbacEngine e =
        engine(
            """
            {"action": "DENY", "policies": {
              "z-any": {"permissions": [{"any": true}], "principals": [{"header": {"name": "x-bad", "present_match": true}}]},
              "a-path": {"permissions": [{"url_path": {"path": {"exact": "/admin"}}}], "principals": [{"any": true}]}}}
            """);
    assertThat(e.evaluate(request("GET", "/"), false)).isEqualTo(new RbacEngine.Result(true, null));
    assertThat(e.evaluate(request("GET", "/admin", "x-bad", "1"), false))
        .isEqualTo(new RbacEngine.Result(false, "a-path"));
    assertThat(e.evaluate(request("GET", "/", "x-bad", "1"), false))
        .isEqualTo(new RbacEngine.Result(false, "z-any"));
    assertThat(RbacEngine.deniedDetails("a b")).isEqualTo("rbac_access_denied_matched_policy[a_b]");
    assertThat(RbacEngine.deniedDetails(null)).isEqualTo("rbac_access_denied_matched_policy[none]");
  }

  @Test
  void logAllowsEverythingAndHintsTheAccessLogOnlyWhenEnforced() {
    RbacEngine e =
        engine(
            """
            {"action": "LOG", "policies": {"audit": {"permissions": [{"url_path": {"path": {"exact": "/x"}}}], "principals": [{"any": true}]}}}
            """);
    RbacRequest hit = request("GET", "/x");
    assertThat(e.evaluate(hit, false)).isEqualTo(new RbacEngine.Result(true, "audit"));
    assertThat(hintOf(hit)).isTrue();
    RbacRequest miss = request("GET", "/y");
    assertThat(e.evaluate(miss, false).allowed()).isTrue();
    assertThat(hintOf(miss)).isFalse();
    RbacRequest shadow = request("GET", "/x");
    assertThat(e.evaluate(shadow, true).allowed()).isTrue();
    assertThat(shadow.dynamicMetadata("envoy.common")).isNull();
  }

  private static boolean hintOf(RbacRequest r) {
    return r.dynamicMetadata("envoy.common").getFieldsOrThrow("access_log_hint").getBoolValue();
  }

  @Test
  void aPolicyNeedsAPermissionAndAPrincipal() {
    assertThatThrownBy(
            () ->
                engine(
                    "{\"action\": \"ALLOW\", \"policies\": {\"p\": {\"principals\": [{\"any\": true}]}}}"))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("rules.policies[\"p\"].permissions");
  }

  @Test
  void aBadRegexIsRefusedNamingItsField() {
    assertThatThrownBy(
            () -> allow("{\"url_path\": {\"path\": {\"safe_regex\": {\"regex\": \"(\"}}}}", ANY))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("rules.policies[\"p\"].permissions[0].url_path.path.safe_regex.regex")
        .hasMessageContaining("'('");
    assertThatThrownBy(
            () ->
                allow(
                    ANY,
                    "{\"header\": {\"name\": \"x\", \"safe_regex_match\": {\"regex\": \"[\"}}}"))
        .hasMessageContaining("principals[0].header.safe_regex_match.regex");
  }

  @Test
  void badAddressesAndRangesAreRefusedNamingTheirField() {
    assertThatThrownBy(() -> allow("{\"destination_ip\": {\"address_prefix\": \"reviews\"}}", ANY))
        .hasMessageContaining("permissions[0].destination_ip.address_prefix");
    assertThatThrownBy(
            () ->
                allow(
                    ANY, "{\"source_ip\": {\"address_prefix\": \"10.0.0.0\", \"prefix_len\": 33}}"))
        .hasMessageContaining("principals[0].source_ip.prefix_len");
    assertThatThrownBy(
            () -> allow("{\"destination_port_range\": {\"start\": 90, \"end\": 80}}", ANY))
        .hasMessageContaining("permissions[0].destination_port_range");
    assertThatThrownBy(() -> allow("{\"any\": false}", ANY))
        .hasMessageContaining("permissions[0].any");
  }
}
