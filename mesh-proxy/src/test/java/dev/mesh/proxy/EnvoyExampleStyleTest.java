package dev.mesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.proxy.config.BootstrapLoader;
import dev.mesh.proxy.config.ConfigRejectedException;
import dev.mesh.proxy.listener.ActiveListener;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * Configs written the way Envoy's examples/ directory writes them load unchanged: a static listener
 * without a name (Envoy names it), enum names in lower case (Envoy reads them in any case), the
 * router named without typed_config (Envoy resolves a filter by its name), a runtime layer (no
 * traffic behaviour: accepted with a warning).
 */
class EnvoyExampleStyleTest {
  private static String config(int upstreamPort, String lbPolicy) {
    return """
        static_resources:
          listeners:
          - address:
              socket_address:
                address: 127.0.0.1
                port_value: 0
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  codec_type: auto
                  stat_prefix: ingress_http
                  route_config:
                    name: local_route
                    virtual_hosts:
                    - name: service
                      domains:
                      - "*"
                      routes:
                      - match:
                          prefix: /
                        route:
                          cluster: local_service
                  http_filters:
                  - name: envoy.filters.http.router
          clusters:
          - name: local_service
            type: strict_dns
            lb_policy: %s
            load_assignment:
              cluster_name: local_service
              endpoints:
              - lb_endpoints:
                - endpoint:
                    address:
                      socket_address:
                        address: localhost
                        port_value: %d
        admin:
          address:
            socket_address:
              address: 127.0.0.1
              port_value: 0
        layered_runtime:
          layers:
          - name: static_layer_0
            static_layer:
              envoy:
                resource_limits:
                  listener:
                    example_listener_name:
                      connection_limit: 10000
        """
        .formatted(lbPolicy, upstreamPort);
  }

  @Test
  void anUnnamedListenerLowerCaseEnumsAndARouterByNameServeTraffic() throws Exception {
    try (TestUpstream upstream = TestUpstream.echo("backend");
        ProxyFixture proxy = new ProxyFixture(config(upstream.port(), "round_robin"))) {
      assertThat(proxy.server.listeners().all()).hasSize(1);
      ActiveListener listener = proxy.server.listeners().all().iterator().next();
      assertThat(listener.config().getName()).isNotEmpty();
      HttpResponse<String> r =
          proxy.http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + listener.boundPort() + "/service"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).startsWith("backend GET /service");
      assertThat(proxy.admin("GET", "/config_dump").body())
          .contains("\"name\": \"" + listener.config().getName() + "\"")
          .contains("\"type\": \"STRICT_DNS\"");
    }
  }

  @Test
  void aLowerCaseEnumValueWeDoNotImplementIsRefusedByItsName() {
    assertThatThrownBy(() -> BootstrapLoader.parse(config(8080, "ring_hash")))
        .isInstanceOf(ConfigRejectedException.class)
        .hasMessageContaining("lb_policy")
        .hasMessageContaining("RING_HASH is not supported");
  }
}
