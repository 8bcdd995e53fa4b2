package dev.mesh.inject;

import dev.mesh.api.IstioAnnotations;
import dev.mesh.api.IstioLabels;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;

/**
 * Who gets a sidecar, by Istio's rules: never a hostNetwork pod, a pod of kube-system, kube-public
 * or mesh-system, or one already injected; otherwise, if the namespace label {@code
 * istio-injection} or the pod's {@code sidecar.istio.io/inject} (label or annotation) says no, no;
 * if either says yes, or the namespace's {@code istio.io/rev} is this injector's revision, yes;
 * else the mesh's default (off, as Istio's).
 */
public final class Selection {
  private Selection() {}

  public static final Set<String> IGNORED_NAMESPACES =
      Set.of("kube-system", "kube-public", "mesh-system");

  /** Whether to inject, and in a few words why. */
  public record Decision(boolean inject, String reason) {}

  public static Decision decide(
      JsonNode pod, String namespace, Map<String, String> namespaceLabels, InjectionSettings s) {
    JsonNode meta = pod.path("metadata");
    if (pod.path("spec").path("hostNetwork").asBoolean(false)) {
      return new Decision(false, "hostNetwork pod");
    }
    if (IGNORED_NAMESPACES.contains(namespace)) {
      return new Decision(false, "namespace " + namespace + " is never injected");
    }
    if (meta.path("annotations").has(IstioAnnotations.SIDECAR_STATUS)) {
      return new Decision(false, "already injected");
    }
    String ns = namespaceLabels.getOrDefault(IstioLabels.INJECTION, "");
    String podSays = meta.path("labels").path(IstioLabels.SIDECAR_INJECT).asString(null);
    if (podSays == null) {
      podSays = meta.path("annotations").path(IstioAnnotations.SIDECAR_INJECT).asString("");
    }
    if (ns.equals(IstioLabels.INJECTION_DISABLED)) {
      return new Decision(false, "namespace label istio-injection=disabled");
    }
    if (podSays.equals("false")) {
      return new Decision(false, "pod says sidecar.istio.io/inject=false");
    }
    if (ns.equals(IstioLabels.INJECTION_ENABLED)) {
      return new Decision(true, "namespace label istio-injection=enabled");
    }
    if (podSays.equals("true")) {
      return new Decision(true, "pod says sidecar.istio.io/inject=true");
    }
    String rev = namespaceLabels.get(IstioLabels.REVISION);
    if (rev == null) {
      rev = meta.path("labels").path(IstioLabels.REVISION).asString(null);
    }
    if (rev != null) {
      return rev.equals(s.revision())
          ? new Decision(true, "revision " + rev)
          : new Decision(false, "revision " + rev + " is another injector's");
    }
    return s.enableNamespacesByDefault()
        ? new Decision(true, "injection on by default")
        : new Decision(false, "neither namespace nor pod asks for a sidecar");
  }
}
