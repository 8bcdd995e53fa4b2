package dev.mesh.inject;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.dataformat.yaml.YAMLMapper;
import tools.jackson.dataformat.yaml.YAMLWriteFeature;

/**
 * Manual injection of Kubernetes YAML, istioctl kube-inject's way: every workload's pod template
 * gets the sidecar (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, and those in
 * a List); every other document is passed through byte for byte, as is an already injected one, so
 * injecting twice equals injecting once. The namespace's labels are not consulted (the user asked
 * for injection); a pod's own {@code sidecar.istio.io/inject: "false"} still wins.
 */
public final class KubeInject {
  private static final ObjectMapper YAML =
      YAMLMapper.builder().disable(YAMLWriteFeature.WRITE_DOC_START_MARKER).build();

  private final SidecarInjector injector;
  private final InjectionSettings settings;

  public KubeInject(SidecarInjector injector, InjectionSettings settings) {
    this.injector = injector;
    this.settings = settings;
  }

  /** The YAML stream with its workloads injected. */
  public String inject(String yaml) {
    StringBuilder out = new StringBuilder();
    List<String> docs = split(yaml);
    for (int i = 0; i < docs.size(); i++) {
      String doc = docs.get(i);
      String injected = injectDocument(doc, i + 1);
      out.append(injected);
    }
    return out.toString();
  }

  /**
   * The documents of a stream, each with the separator line that ends it (so that joining them
   * gives the stream back, byte for byte).
   */
  static List<String> split(String yaml) {
    List<String> docs = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : yaml.split("(?<=\n)")) {
      current.append(line);
      if (line.equals("---\n") || line.equals("---")) {
        docs.add(current.toString());
        current.setLength(0);
      }
    }
    if (current.length() > 0) {
      docs.add(current.toString());
    }
    return docs;
  }

  private String injectDocument(String text, int number) {
    String body = text;
    String separator = "";
    if (text.endsWith("---\n")) {
      body = text.substring(0, text.length() - 4);
      separator = "---\n";
    } else if (text.endsWith("---")) {
      body = text.substring(0, text.length() - 3);
      separator = "---";
    }
    if (body.isBlank()) {
      return text;
    }
    JsonNode doc;
    try {
      doc = YAML.readTree(body);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "document "
              + number
              + " is not valid YAML: "
              + e.getMessage().lines().findFirst().orElse(""));
    }
    if (!(doc instanceof ObjectNode root) || !inject(root, "", number)) {
      return text;
    }
    return YAML.writeValueAsString(root) + separator;
  }

  /** Injects the pod templates inside {@code resource}; false when there was nothing to do. */
  private boolean inject(ObjectNode resource, String namespace, int number) {
    String kind = resource.path("kind").asString("");
    String ns = resource.path("metadata").path("namespace").asString(namespace);
    String name = resource.path("metadata").path("name").asString("");
    String apiVersion = resource.path("apiVersion").asString("v1");
    if (ns.isEmpty()) {
      ns = "default";
    }
    switch (kind) {
      case "List" -> {
        boolean any = false;
        for (JsonNode item : resource.path("items")) {
          if (item instanceof ObjectNode o) {
            any |= inject(o, ns, number);
          }
        }
        return any;
      }
      case "Pod" -> {
        return injectTemplate(
            resource, null, ns, new SidecarInjector.Workload("Pod", "v1", name), number);
      }
      case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job" -> {
        return injectTemplate(
            (ObjectNode) resource.path("spec"),
            "template",
            ns,
            new SidecarInjector.Workload(kind, apiVersion, name),
            number);
      }
      case "CronJob" -> {
        JsonNode jobSpec = resource.path("spec").path("jobTemplate").path("spec");
        if (!(jobSpec instanceof ObjectNode o)) {
          return false;
        }
        return injectTemplate(
            o, "template", ns, new SidecarInjector.Workload(kind, apiVersion, name), number);
      }
      default -> {
        return false;
      }
    }
  }

  private boolean injectTemplate(
      ObjectNode parent,
      String field,
      String namespace,
      SidecarInjector.Workload workload,
      int number) {
    JsonNode pod = field == null ? parent : parent.path(field);
    if (!(pod instanceof ObjectNode)) {
      return false;
    }
    // The user asked for injection: the namespace's label does not matter, the pod's own does.
    Selection.Decision d =
        Selection.decide(pod, namespace, Map.of("istio-injection", "enabled"), settings);
    if (!d.inject()) {
      return false;
    }
    ObjectNode injected;
    try {
      injected = injector.inject(pod, namespace, workload);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "document "
              + number
              + " ("
              + workload.kind()
              + " "
              + workload.name()
              + "): "
              + e.getMessage());
    }
    if (field == null) {
      parent.removeAll();
      parent.setAll(injected);
    } else {
      parent.set(field, injected);
    }
    return true;
  }
}
