package dev.mesh.istioctl;

/**
 * A pod named as istioctl takes it: {@code name.namespace}, split at the last dot, or a bare name.
 */
record PodName(String name, String namespace) {
  static PodName parse(String arg, String defaultNamespace) {
    int dot = arg.lastIndexOf('.');
    return dot > 0
        ? new PodName(arg.substring(0, dot), arg.substring(dot + 1))
        : new PodName(arg, defaultNamespace);
  }
}
