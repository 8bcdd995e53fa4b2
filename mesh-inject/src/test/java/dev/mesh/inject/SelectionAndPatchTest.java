package dev.mesh.inject;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.zjsonpatch.JsonPatch;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

class SelectionAndPatchTest {
  static final ObjectMapper YAML = YAMLMapper.builder().build();
  static final InjectionSettings SETTINGS = InjectionSettings.defaults();

  static JsonNode pod(
      String podLabel, String podAnnotation, boolean hostNetwork, boolean injected) {
    ObjectNode pod =
        (ObjectNode)
            YAML.readTree("metadata: {name: p}\nspec: {containers: [{name: a, image: a}]}\n");
    ObjectNode meta = (ObjectNode) pod.get("metadata");
    if (!podLabel.isEmpty()) {
      meta.putObject("labels").put("sidecar.istio.io/inject", podLabel);
    }
    if (!podAnnotation.isEmpty() || injected) {
      ObjectNode a = meta.putObject("annotations");
      if (!podAnnotation.isEmpty()) {
        a.put("sidecar.istio.io/inject", podAnnotation);
      }
      if (injected) {
        a.put("sidecar.istio.io/status", "{}");
      }
    }
    if (hostNetwork) {
      ((ObjectNode) pod.get("spec")).put("hostNetwork", true);
    }
    return pod;
  }

  /** Istio's injection policy, row by row. */
  @ParameterizedTest(
      name = "ns={0} label={1} annotation={2} hostNetwork={3} injected={4} namespace={5} -> {6}")
  @CsvSource({
    "enabled,  '',    '',    false, false, shop,        true",
    "disabled, '',    '',    false, false, shop,        false",
    "disabled, true,  '',    false, false, shop,        false",
    "enabled,  false, '',    false, false, shop,        false",
    "enabled,  '',    false, false, false, shop,        false",
    "'',       true,  '',    false, false, shop,        true",
    "'',       '',    true,  false, false, shop,        true",
    "'',       '',    '',    false, false, shop,        false",
    "enabled,  '',    '',    true,  false, shop,        false",
    "enabled,  '',    '',    false, true,  shop,        false",
    "enabled,  true,  '',    false, false, kube-system, false",
    "enabled,  true,  '',    false, false, mesh-system, false",
    "rev:default, '', '',    false, false, shop,        true",
    "rev:canary,  '', '',    false, false, shop,        false",
  })
  void whoGetsASidecar(
      String nsLabel,
      String podLabel,
      String podAnnotation,
      boolean hostNetwork,
      boolean injected,
      String namespace,
      boolean expected) {
    Map<String, String> labels =
        nsLabel.startsWith("rev:")
            ? Map.of("istio.io/rev", nsLabel.substring(4))
            : nsLabel.isEmpty() ? Map.of() : Map.of("istio-injection", nsLabel);
    Selection.Decision d =
        Selection.decide(
            pod(podLabel, podAnnotation, hostNetwork, injected), namespace, labels, SETTINGS);
    assertThat(d.inject()).as(d.reason()).isEqualTo(expected);
  }

  @Test
  void thePatchTurnsThePodIntoTheInjectedOneAndNativeAndTproxyModesShowInIt() {
    JsonNode pod =
        YAML.readTree(
            """
            metadata:
              name: p
              annotations: {sidecar.istio.io/nativeSidecar: "true", sidecar.istio.io/interceptionMode: TPROXY, sidecar.istio.io/proxyCPU: 250m}
            spec:
              initContainers: [{name: setup, image: s}]
              containers: [{name: app, image: a}]
            """);
    SidecarInjector injector = new SidecarInjector(SidecarTemplate.builtIn(), SETTINGS);
    ObjectNode injected = injector.inject(pod, "shop", SidecarInjector.Workload.of(pod));
    JsonNode patch = PodPatch.between(pod, injected);
    assertThat(JsonPatch.apply(patch, pod)).isEqualTo(injected);

    JsonNode inits = injected.path("spec").path("initContainers");
    assertThat(inits.get(0).path("name").asString()).isEqualTo("istio-init");
    assertThat(inits.get(1).path("name").asString()).isEqualTo("setup");
    assertThat(inits.get(2).path("name").asString()).isEqualTo("istio-proxy");
    assertThat(inits.get(2).path("restartPolicy").asString()).isEqualTo("Always");
    // Istio's TPROXY sidecar: root for NET_ADMIN alone, group 1337 for capture to exempt by gid.
    JsonNode sc = inits.get(2).path("securityContext");
    assertThat(sc.path("capabilities").path("add").toString()).isEqualTo("[\"NET_ADMIN\"]");
    assertThat(sc.path("capabilities").path("drop").toString()).isEqualTo("[\"ALL\"]");
    assertThat(sc.path("runAsUser").asInt()).isZero();
    assertThat(sc.path("runAsGroup").asInt()).isEqualTo(1337);
    assertThat(sc.path("runAsNonRoot").asBoolean()).isFalse();
    assertThat(inits.get(0).path("args").toString()).contains("\"-u\",\"1337\",\"-g\",\"1337\"");
    // As Istio's template: proxyCPU alone is a CPU request and nothing else, no default memory.
    assertThat(inits.get(2).path("resources").toString())
        .isEqualTo("{\"requests\":{\"cpu\":\"250m\"}}");
    assertThat(inits.get(0).path("args").toString()).contains("\"-m\",\"TPROXY\"");
    assertThat(injected.path("spec").path("containers").size()).isEqualTo(1);
  }
}
