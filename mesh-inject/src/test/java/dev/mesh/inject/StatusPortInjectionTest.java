package dev.mesh.inject;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;

/**
 * The pod's status.sidecar.istio.io/port and readiness annotations, against Istio's own cases
 * (pkg/kube/inject/testdata/inject/status_*.yaml and their .injected outputs): the init container's
 * -d list, the sidecar's probes, the app's rewritten probes and hooks, Prometheus.
 */
class StatusPortInjectionTest {
  static PodTemplateSpec injected(String testdata) throws Exception {
    String input;
    try (var in = StatusPortInjectionTest.class.getResourceAsStream("istio/" + testdata)) {
      input = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    HasMetadata out = Serialization.unmarshal(KubeInjectTest.KUBE_INJECT.inject(input));
    return ((Deployment) out).getSpec().getTemplate();
  }

  static Container named(List<Container> containers, String name) {
    return containers.stream().filter(c -> c.getName().equals(name)).findFirst().orElseThrow();
  }

  static String excludedInbound(PodTemplateSpec pod) {
    List<String> args = pod.getSpec().getInitContainers().get(0).getArgs();
    return args.get(args.indexOf("-d") + 1);
  }

  @Test
  void statusAnnotationsAsIstioInjectsThem() throws Exception {
    PodTemplateSpec pod = injected("status_annotations.yaml");
    assertThat(excludedInbound(pod)).isEqualTo("15090,15021,123");
    Container proxy = named(pod.getSpec().getContainers(), "istio-proxy");
    Probe ready = proxy.getReadinessProbe();
    assertThat(ready.getHttpGet().getPath()).isEqualTo("/healthz/ready");
    assertThat(ready.getHttpGet().getPort().getIntVal()).isEqualTo(15021);
    assertThat(ready.getInitialDelaySeconds()).isEqualTo(100);
    assertThat(ready.getPeriodSeconds()).isEqualTo(200);
    assertThat(ready.getFailureThreshold()).isEqualTo(300);
    assertThat(ready.getTimeoutSeconds()).isEqualTo(3);
    // Istio's output keeps its startup probe as it is.
    assertThat(proxy.getStartupProbe().getPeriodSeconds()).isEqualTo(1);
    assertThat(proxy.getStartupProbe().getFailureThreshold()).isEqualTo(600);
    // And Prometheus on 15020, as Istio's output has it.
    assertThat(pod.getMetadata().getAnnotations())
        .containsEntry("prometheus.io/port", "15020")
        .containsEntry("status.sidecar.istio.io/port", "123");
  }

  @Test
  void aZeroStatusPortHasNoStatusServerAsIstiosZeroportCase() throws Exception {
    PodTemplateSpec pod = injected("status_annotations_zeroport.yaml");
    assertThat(excludedInbound(pod)).isEqualTo("15090,15021");
    Container proxy = named(pod.getSpec().getContainers(), "istio-proxy");
    assertThat(proxy.getReadinessProbe()).isNull();
    assertThat(proxy.getStartupProbe()).isNull();
    assertThat(pod.getMetadata().getAnnotations()).containsEntry("prometheus.io/port", "15020");
  }

  @Test
  void withoutAnnotationsTheDefaultsOfIstiosValues() throws Exception {
    PodTemplateSpec pod = injected("status_params.yaml");
    assertThat(excludedInbound(pod)).isEqualTo("15090,15021,15020");
    Probe ready = named(pod.getSpec().getContainers(), "istio-proxy").getReadinessProbe();
    assertThat(ready.getInitialDelaySeconds()).isZero();
    assertThat(ready.getPeriodSeconds()).isEqualTo(15);
    assertThat(ready.getFailureThreshold()).isEqualTo(4);
  }

  static final String APP =
      """
      apiVersion: v1
      kind: Pod
      metadata:
        name: app
        annotations: {%s}
      spec:
        containers:
        - name: app
          image: app
          ports: [{name: http, containerPort: 8080}]
          livenessProbe: {httpGet: {path: /live, port: http}}
          readinessProbe: {tcpSocket: {port: 8080}}
          lifecycle:
            preStop: {httpGet: {path: /stop, port: 8080}}
      """;

  static io.fabric8.kubernetes.api.model.Pod pod(String annotations) {
    String out = KubeInjectTest.KUBE_INJECT.inject(APP.formatted(annotations));
    return (io.fabric8.kubernetes.api.model.Pod) Serialization.unmarshal(out);
  }

  @Test
  void theAppsProbesAndHooksGoToTheStatusPort() throws Exception {
    var pod = pod("status.sidecar.istio.io/port: \"15999\"");
    Container app = named(pod.getSpec().getContainers(), "app");
    assertThat(app.getLivenessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15999);
    assertThat(app.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(15999);
    assertThat(app.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/app-health/app/readyz");
    assertThat(app.getLifecycle().getPreStop().getHttpGet().getPort().getIntVal()).isEqualTo(15999);
    EnvVar probers =
        named(pod.getSpec().getContainers(), "istio-proxy").getEnv().stream()
            .filter(e -> e.getName().equals("ISTIO_KUBE_APP_PROBERS"))
            .findFirst()
            .orElseThrow();
    JsonNode originals = KubeInjectTest.JSON.readTree(probers.getValue());
    assertThat(originals.path("/app-health/app/livez").path("httpGet").path("port").asInt())
        .isEqualTo(8080);
    assertThat(originals.path("/app-lifecycle/app/prestopz").path("httpGet").path("port").asInt())
        .isEqualTo(8080);
  }

  @Test
  void aZeroStatusPortLeavesTheAppsProbesToTheKubelet() throws Exception {
    var pod = pod("status.sidecar.istio.io/port: \"0\"");
    Container app = named(pod.getSpec().getContainers(), "app");
    assertThat(app.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/live");
    assertThat(app.getLivenessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("http");
    assertThat(app.getReadinessProbe().getTcpSocket().getPort().getIntVal()).isEqualTo(8080);
    assertThat(app.getLifecycle().getPreStop().getHttpGet().getPath()).isEqualTo("/stop");
    assertThat(named(pod.getSpec().getContainers(), "istio-proxy").getEnv())
        .extracting(EnvVar::getName)
        .doesNotContain("ISTIO_KUBE_APP_PROBERS");
  }

  @ParameterizedTest(name = "status port {0}, excludeInboundPorts ''{1}'' -> ''{2}''")
  @CsvSource(
      delimiter = '|',
      value = {
        "15020 | ''            | 15020",
        "123   | 4,5           | 4,5,123",
        "123   | 4,123,5       | 4,123,5",
        "123   | ' 4 , ,5'     | 4,5,123",
        "0     | 4,5           | 4,5",
        "0     | ''            | ''",
      })
  void excludeInboundPortAsIstiosTemplateFunction(int port, String excluded, String expected) {
    assertThat(SidecarInjector.excludeInboundPort(port, excluded)).isEqualTo(expected);
  }

  @Test
  void theStatusPortJoinsThePodsExcludedPortsInIstiosOrder() {
    var pod =
        pod(
            "status.sidecar.istio.io/port: \"123\","
                + " traffic.sidecar.istio.io/excludeInboundPorts: \"9999\"");
    List<String> args = pod.getSpec().getInitContainers().get(0).getArgs();
    assertThat(args).containsSequence("-d", "15090,15021,9999,123");
  }

  @ParameterizedTest(name = "{0}: ''{1}''")
  @CsvSource(
      delimiter = '|',
      value = {
        "status.sidecar.istio.io/port                          | 65536 | not in 0..65535",
        "status.sidecar.istio.io/port                          | -1    | not a number",
        "status.sidecar.istio.io/port                          | abc   | not a number",
        "readiness.status.sidecar.istio.io/initialDelaySeconds | -5    | unsigned 32-bit",
        "readiness.status.sidecar.istio.io/periodSeconds       | 1.5   | unsigned 32-bit",
        "readiness.status.sidecar.istio.io/failureThreshold    | 4294967296 | unsigned 32-bit",
        "readiness.status.sidecar.istio.io/failureThreshold    | 4294967295 | above 2147483647",
        "readiness.status.sidecar.istio.io/applicationPorts    | 1,x   | port 'x' is not a number",
      })
  void aBadValueIsRefusedNamingTheAnnotationAndValue(
      String annotation, String value, String reason) {
    assertThatThrownBy(() -> pod(annotation + ": \"" + value + "\""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'" + value + "'")
        .hasMessageContaining("annotation '" + annotation + "'")
        .hasMessageContaining(reason);
  }

  @ParameterizedTest(name = "{0}: ''{1}''")
  @CsvSource(
      delimiter = '|',
      value = {
        "status.sidecar.istio.io/port                          | 65535",
        "readiness.status.sidecar.istio.io/failureThreshold    | 2147483647",
        "readiness.status.sidecar.istio.io/initialDelaySeconds | 0",
        "readiness.status.sidecar.istio.io/applicationPorts    | *",
      })
  void istiosLimitsAreAccepted(String annotation, String value) {
    assertThat(pod(annotation + ": \"" + value + "\"").getSpec().getContainers()).hasSize(2);
  }
}
