package dev.mesh.local.cluster;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.RuleWithOperations;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhookConfigurationList;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.zjsonpatch.JsonPatch;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Logger;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The embedded API server's admission of writes, as a real API server's: a create, an update or a
 * patch of an object that a stored ValidatingWebhookConfiguration's rules take is sent to its
 * webhooks (an AdmissionReview with the object as it would be stored, and the old one), and a
 * denial refuses the write with the webhook's message, as {@code kubectl apply} shows it: {@code
 * admission webhook "validation.istio.io" denied the request: ...}. A webhook that cannot be
 * reached refuses the write under failurePolicy Fail and is skipped under Ignore. It also serves
 * what the CRUD store cannot: TokenRequest and TokenReview ({@link ServiceAccountTokens}), and the
 * {@code default} service account of every namespace created through it.
 */
final class AdmittingDispatcher extends KubernetesCrudDispatcher {
  private static final Logger LOG = Logger.getLogger(AdmittingDispatcher.class.getName());
  private static final ObjectMapper JSON = JsonMapper.builder().build();
  private static final String VALIDATING =
      "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";

  private volatile WebhookCaller webhooks;
  private final ServiceAccountTokens tokens;

  /** The dispatcher whose service-account tokens {@code issuer} signs. */
  AdmittingDispatcher(ServiceAccountIssuer issuer) {
    this.tokens = new ServiceAccountTokens(issuer, new Objects());
  }

  void callWith(WebhookCaller webhooks) {
    this.webhooks = webhooks;
  }

  @Override
  public MockResponse handleCreate(RecordedRequest request) {
    Target t = Target.of(request.getPath());
    if (t != null
        && t.group().isEmpty()
        && t.resource().equals("serviceaccounts")
        && t.subresource().equals("token")) {
      return tokens.tokenRequest(t.namespace(), t.name(), utf8(request));
    }
    if (t != null
        && t.group().equals("authentication.k8s.io")
        && t.resource().equals("tokenreviews")
        && t.namespace().isEmpty()) {
      return tokens.tokenReview(utf8(request));
    }
    MockResponse refused = admit(request, "CREATE");
    if (refused != null) {
      return refused;
    }
    MockResponse created = super.handleCreate(request);
    if (t != null
        && t.group().isEmpty()
        && t.resource().equals("namespaces")
        && t.name().isEmpty()
        && created.code() == 201) {
      // The service-account controller's part: every namespace has its default account.
      tokens.defaultServiceAccount(
          JSON.readTree(body(created)).path("metadata").path("name").asString());
    }
    return created;
  }

  /** The API's objects for the token endpoints, read and written as the CRUD store keeps them. */
  private final class Objects implements ServiceAccountTokens.Store {
    @Override
    public <T extends HasMetadata> T get(String path, Class<T> type) {
      MockResponse r = AdmittingDispatcher.super.handleGet(path);
      return r.code() == 200 ? Serialization.unmarshal(body(r), type) : null;
    }

    @Override
    public <T extends HasMetadata> T create(String collection, T object) {
      RecordedRequest request =
          new RecordedRequest(
              "HTTP/1.1",
              HttpMethod.POST,
              collection,
              Headers.builder().add("Content-Type", "application/json").build(),
              new Buffer(Serialization.asJson(object).getBytes(StandardCharsets.UTF_8)));
      MockResponse r = AdmittingDispatcher.super.handleCreate(request);
      @SuppressWarnings("unchecked")
      T stored =
          r.code() == 201 || r.code() == 200
              ? (T) Serialization.unmarshal(body(r), object.getClass())
              : null;
      return stored;
    }
  }

  /** The request's body; getBytes leaves it for the store to read, getUtf8Body would consume it. */
  private static String utf8(RecordedRequest request) {
    return new String(request.getBody().getBytes(), StandardCharsets.UTF_8);
  }

  @Override
  public MockResponse handleUpdate(RecordedRequest request) {
    MockResponse refused = admit(request, "UPDATE");
    return refused != null ? refused : super.handleUpdate(request);
  }

  @Override
  public MockResponse handlePatch(RecordedRequest request) {
    MockResponse refused = admit(request, "UPDATE");
    return refused != null ? refused : super.handlePatch(request);
  }

  /** A write's target, from its path: group, version, namespace, resource, name, subresource. */
  record Target(
      String group,
      String version,
      String namespace,
      String resource,
      String name,
      String subresource) {
    static Target of(String path) {
      String p = path.contains("?") ? path.substring(0, path.indexOf('?')) : path;
      String[] s = p.split("/");
      int i;
      String group;
      String version;
      if (s.length > 2 && s[1].equals("api")) {
        group = "";
        version = s[2];
        i = 3;
      } else if (s.length > 3 && s[1].equals("apis")) {
        group = s[2];
        version = s[3];
        i = 4;
      } else {
        return null;
      }
      String namespace = "";
      if (s.length > i + 1 && s[i].equals("namespaces") && s.length > i + 2) {
        namespace = s[i + 1];
        i += 2;
      }
      if (s.length <= i) {
        return null;
      }
      return new Target(
          group,
          version,
          namespace,
          s[i],
          s.length > i + 1 ? s[i + 1] : "",
          s.length > i + 2 ? s[i + 2] : "");
    }
  }

  /** The refusal of a write the webhooks deny, or null to let it through. */
  private MockResponse admit(RecordedRequest request, String operation) {
    WebhookCaller caller = webhooks;
    Target t = Target.of(request.getPath());
    if (caller == null || t == null || !t.subresource().isEmpty()) {
      return null;
    }
    List<ValidatingWebhook> hooks = hooksFor(t, operation);
    if (hooks.isEmpty()) {
      return null;
    }
    try {
      JsonNode old = null;
      if (!operation.equals("CREATE")) {
        MockResponse current = super.handleGet(request.getPath());
        old = current.code() == 200 ? JSON.readTree(body(current)) : null;
      }
      JsonNode object = objectOf(request, old);
      Map<String, String> nsLabels = namespaceLabels(t.namespace());
      for (ValidatingWebhook hook : hooks) {
        Map<String, String> labels = labelsOf(object);
        if (!Labels.matches(hook.getNamespaceSelector(), nsLabels)
            || !Labels.matches(hook.getObjectSelector(), labels)) {
          continue;
        }
        MockResponse refused = call(caller, hook, t, operation, object, old);
        if (refused != null) {
          return refused;
        }
      }
      return null;
    } catch (RuntimeException e) {
      LOG.warning("admission of " + request.getPath() + " could not be worked out: " + e);
      return null;
    }
  }

  private MockResponse call(
      WebhookCaller caller,
      ValidatingWebhook hook,
      Target t,
      String operation,
      JsonNode object,
      JsonNode old) {
    ObjectNode review = JSON.createObjectNode();
    review.put("apiVersion", "admission.k8s.io/v1");
    review.put("kind", "AdmissionReview");
    ObjectNode r = review.putObject("request");
    r.put("uid", UUID.randomUUID().toString());
    r.putObject("kind")
        .put("group", t.group())
        .put("version", t.version())
        .put("kind", object.path("kind").asString(""));
    r.putObject("resource")
        .put("group", t.group())
        .put("version", t.version())
        .put("resource", t.resource());
    r.put("namespace", t.namespace());
    r.put("name", object.path("metadata").path("name").asString(t.name()));
    r.put("operation", operation);
    r.set("object", object);
    if (old != null) {
      r.set("oldObject", old);
    }
    JsonNode response;
    try {
      response = caller.send(hook.getClientConfig(), hook.getTimeoutSeconds(), review);
    } catch (IOException | RuntimeException e) {
      if ("Ignore".equals(hook.getFailurePolicy())) {
        LOG.warning("webhook " + hook.getName() + " failed, ignored: " + e.getMessage());
        return null;
      }
      return ApiResponses.status(
          500,
          "InternalError",
          "Internal error occurred: failed calling webhook \""
              + hook.getName()
              + "\": "
              + e.getMessage());
    }
    if (response.path("allowed").asBoolean(false)) {
      return null;
    }
    JsonNode s = response.path("status");
    int code = s.path("code").asInt(403);
    return ApiResponses.status(
        code,
        s.path("reason").asString(code == 400 ? "BadRequest" : "Forbidden"),
        "admission webhook \""
            + hook.getName()
            + "\" denied the request: "
            + s.path("message").asString(""));
  }

  /** The stored webhooks whose rules take this write. */
  private List<ValidatingWebhook> hooksFor(Target t, String operation) {
    MockResponse r = super.handleGet(VALIDATING);
    if (r.code() != 200) {
      return List.of();
    }
    ValidatingWebhookConfigurationList list =
        Serialization.unmarshal(body(r), ValidatingWebhookConfigurationList.class);
    List<ValidatingWebhook> out = new java.util.ArrayList<>();
    for (var config : list.getItems()) {
      for (ValidatingWebhook hook : config.getWebhooks()) {
        if (hook.getRules().stream().anyMatch(rule -> takes(rule, t, operation))) {
          out.add(hook);
        }
      }
    }
    return out;
  }

  private static boolean takes(RuleWithOperations rule, Target t, String operation) {
    return any(rule.getOperations(), operation)
        && any(rule.getApiGroups(), t.group())
        && any(rule.getApiVersions(), t.version())
        && any(rule.getResources(), t.resource());
  }

  private static boolean any(List<String> values, String value) {
    return values != null && (values.contains("*") || values.contains(value));
  }

  /** The object as it would be stored: the body of a create or update, the patched old one. */
  private static JsonNode objectOf(RecordedRequest request, JsonNode old) {
    String body = utf8(request);
    if (!request.getMethod().equalsIgnoreCase("PATCH") || old == null) {
      return JSON.readTree(body);
    }
    String type = request.getHeader("Content-Type");
    JsonNode patch = JSON.readTree(body);
    if (type != null && type.startsWith("application/json-patch+json")) {
      return JsonPatch.apply(patch, old);
    }
    return merge(old.deepCopy(), patch); // merge, strategic-merge (for custom resources) and apply
  }

  /** RFC 7386 JSON merge patch. */
  private static JsonNode merge(JsonNode target, JsonNode patch) {
    if (!patch.isObject()) {
      return patch;
    }
    ObjectNode out = target.isObject() ? (ObjectNode) target : JSON.createObjectNode();
    for (Iterator<Map.Entry<String, JsonNode>> it = patch.properties().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (e.getValue().isNull()) {
        out.remove(e.getKey());
      } else {
        out.set(e.getKey(), merge(out.path(e.getKey()), e.getValue()));
      }
    }
    return out;
  }

  private Map<String, String> namespaceLabels(String namespace) {
    Map<String, String> labels = new HashMap<>();
    if (namespace.isEmpty()) {
      return labels;
    }
    MockResponse r = super.handleGet("/api/v1/namespaces/" + namespace);
    if (r.code() == 200) {
      labels.putAll(labelsOf(JSON.readTree(body(r))));
    }
    labels.put("kubernetes.io/metadata.name", namespace);
    return labels;
  }

  private static Map<String, String> labelsOf(JsonNode object) {
    Map<String, String> labels = new HashMap<>();
    object
        .path("metadata")
        .path("labels")
        .properties()
        .forEach(e -> labels.put(e.getKey(), e.getValue().asString()));
    return labels;
  }

  private static String body(MockResponse r) {
    return r.getBody() == null
        ? "{}"
        : new String(r.getBody().getBytes(), java.nio.charset.StandardCharsets.UTF_8);
  }
}
