package dev.mesh.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.mesh.config.mesh.MeshConfig;
import dev.mesh.config.mesh.ProxyConfig;
import org.junit.jupiter.api.Test;

class MeshConfigTest {

  @Test
  void readsAnIstioMeshConfig() {
    String yaml =
        """
        accessLogFile: /dev/stdout
        enableTracing: true
        defaultConfig:
          discoveryAddress: istiod.istio-system.svc:15012
          holdApplicationUntilProxyStarts: true
          proxyMetadata:
            ISTIO_META_DNS_CAPTURE: "true"
          tracing:
            zipkin:
              address: zipkin.istio-system:9411
        outboundTrafficPolicy:
          mode: REGISTRY_ONLY
        extensionProviders:
        - name: otel
          opentelemetry:
            service: otel.observability.svc.cluster.local
            port: 4317
        """;
    MeshConfig mesh = IstioResources.readValue(yaml, MeshConfig.class, "mesh config");
    assertThat(mesh.outboundTrafficPolicy.mode)
        .isEqualTo(MeshConfig.OutboundTrafficPolicy.Mode.REGISTRY_ONLY);
    assertThat(mesh.defaultConfig.holdApplicationUntilProxyStarts).isTrue();
    assertThat(mesh.defaultConfig.proxyMetadata).containsEntry("ISTIO_META_DNS_CAPTURE", "true");
    assertThat(
            Samples.sameJson(
                IstioResources.readDocuments(yaml).get(0), IstioResources.toTree(mesh)))
        .isTrue();
  }

  @Test
  void anUnknownFieldIsNamed() {
    assertThatThrownBy(
            () ->
                IstioResources.readValue(
                    "defaultConfig:\n  discoveryAdress: x:15010\n",
                    MeshConfig.class,
                    "mesh config"))
        .hasMessage(
            "mesh config: defaultConfig.discoveryAdress: unknown field \"discoveryAdress\"");
  }

  @Test
  void defaultsAreIstiosWithOurControlPlane() {
    MeshConfig mesh = MeshConfig.defaults();
    assertThat(mesh.outboundTrafficPolicy.mode)
        .isEqualTo(MeshConfig.OutboundTrafficPolicy.Mode.ALLOW_ANY);
    assertThat(mesh.trustDomain).isEqualTo("cluster.local");
    ProxyConfig proxy = mesh.defaultConfig;
    assertThat(proxy.discoveryAddress).isEqualTo("mesh-pilot.mesh-system.svc:15012");
    assertThat(proxy.terminationDrainDuration).isEqualTo("5s");
    assertThat(IstioDuration.parse(proxy.drainDuration)).hasSeconds(45);
  }
}
