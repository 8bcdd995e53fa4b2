package dev.mesh.inject;

/**
 * The mesh-wide values of injection, as the injection ConfigMap gives them: the image holding
 * agent, proxy and init, pilot's address, the revision this injector serves, the default capture
 * mode and the defaults Istio lets a pod override by annotation.
 */
public record InjectionSettings(
    String proxyImage,
    String discoveryAddress,
    String revision,
    String interceptionMode,
    boolean nativeSidecars,
    boolean holdApplicationUntilProxyStarts,
    boolean enableNamespacesByDefault,
    String trustDomain) {

  public static InjectionSettings defaults() {
    return new InjectionSettings(
        "mesh/proxy:0.1.0",
        "mesh-pilot.mesh-system.svc:15012",
        "default",
        "REDIRECT",
        false,
        false,
        false,
        "cluster.local");
  }

  /**
   * These defaults with what a MeshConfig says (Istio's shape: {@code
   * defaultConfig.discoveryAddress}, {@code defaultConfig.interceptionMode}, {@code
   * defaultConfig.holdApplicationUntilProxyStarts}, {@code trustDomain}), given as MeshConfig YAML
   * or as the ConfigMap holding it under {@code mesh}.
   */
  public InjectionSettings withMeshConfig(String yaml) {
    tools.jackson.databind.JsonNode root;
    try {
      root = tools.jackson.dataformat.yaml.YAMLMapper.builder().build().readTree(yaml);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("the mesh config is not valid YAML: " + e.getMessage());
    }
    if (root.path("kind").asString("").equals("ConfigMap")) {
      String mesh = root.path("data").path("mesh").asString(null);
      if (mesh == null) {
        throw new IllegalArgumentException("the mesh ConfigMap has no data.mesh");
      }
      return withMeshConfig(mesh);
    }
    tools.jackson.databind.JsonNode d = root.path("defaultConfig");
    String mode = d.path("interceptionMode").asString(interceptionMode);
    if (!mode.equals("REDIRECT") && !mode.equals("TPROXY")) {
      throw new IllegalArgumentException(
          "mesh config defaultConfig.interceptionMode must be REDIRECT or TPROXY, got '"
              + mode
              + "'");
    }
    return new InjectionSettings(
        proxyImage,
        d.path("discoveryAddress").asString(discoveryAddress),
        revision,
        mode,
        nativeSidecars,
        d.path("holdApplicationUntilProxyStarts").asBoolean(holdApplicationUntilProxyStarts),
        enableNamespacesByDefault,
        root.path("trustDomain").asString(trustDomain));
  }

  public InjectionSettings withProxyImage(String image) {
    return new InjectionSettings(
        image,
        discoveryAddress,
        revision,
        interceptionMode,
        nativeSidecars,
        holdApplicationUntilProxyStarts,
        enableNamespacesByDefault,
        trustDomain);
  }

  public InjectionSettings withNativeSidecars(boolean on) {
    return new InjectionSettings(
        proxyImage,
        discoveryAddress,
        revision,
        interceptionMode,
        on,
        holdApplicationUntilProxyStarts,
        enableNamespacesByDefault,
        trustDomain);
  }
}
