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
        "mesh-pilot.mesh-system.svc:15010",
        "default",
        "REDIRECT",
        false,
        false,
        false,
        "cluster.local");
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
