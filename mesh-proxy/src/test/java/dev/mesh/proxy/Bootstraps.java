package dev.mesh.proxy;

/** Bootstrap YAML for tests, in Envoy's own style: one HTTP listener and its clusters. */
final class Bootstraps {
  private Bootstraps() {}

  /** A listener {@code http} on a free port with the given virtual hosts, plus clusters. */
  static String http(String virtualHosts, String clusters) {
    return http(virtualHosts, clusters, "");
  }

  /** The same, with HTTP filters placed before the router. */
  static String http(String virtualHosts, String clusters, String filtersBeforeRouter) {
    return http(virtualHosts, clusters, filtersBeforeRouter, "");
  }

  /** The same, with more fields of the route configuration (e.g. validate_clusters). */
  static String http(
      String virtualHosts, String clusters, String filtersBeforeRouter, String routeOptions) {
    return """
        static_resources:
          listeners:
          - name: http
            address: {socket_address: {address: 127.0.0.1, port_value: 0}}
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: test
                  access_log:
                  - name: envoy.access_loggers.stdout
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog
                  route_config:
                    name: test_route
        %s
                    virtual_hosts:
        %s
                  http_filters:
        %s
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          clusters:
        %s
        admin:
          address: {socket_address: {address: 127.0.0.1, port_value: 0}}
        """
        .formatted(
            indent(routeOptions, 12),
            indent(virtualHosts, 12),
            indent(filtersBeforeRouter, 10),
            indent(clusters, 2));
  }

  /** A STATIC cluster of loopback endpoints. */
  static String cluster(String name, int... ports) {
    StringBuilder b = new StringBuilder();
    b.append("- name: ").append(name).append('\n');
    b.append("  type: STATIC\n  connect_timeout: 1s\n  load_assignment:\n");
    b.append("    cluster_name: ").append(name).append("\n    endpoints:\n    - lb_endpoints:\n");
    for (int port : ports) {
      b.append("      - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ")
          .append(port)
          .append("}}}\n");
    }
    return b.toString();
  }

  private static String indent(String text, int spaces) {
    String pad = " ".repeat(spaces);
    return text.stripIndent().lines().map(l -> pad + l).reduce((a, b) -> a + "\n" + b).orElse("");
  }

  /** One virtual host sending every path to cluster "up", with more fields on its route action. */
  static String allToUp(String routeActionFields) {
    return """
        - name: all
          domains: ["*"]
          routes:
          - match: {prefix: "/"}
            route:
              cluster: up
        %s
        """
        .formatted(routeActionFields.stripIndent().indent(6).stripTrailing());
  }
}
