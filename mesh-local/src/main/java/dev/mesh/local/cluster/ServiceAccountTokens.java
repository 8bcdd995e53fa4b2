package dev.mesh.local.cluster;

import dev.mesh.local.kube.ControlPlane;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.authentication.BoundObjectReference;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestSpec;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestStatus;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewSpec;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewStatus;
import io.fabric8.kubernetes.api.model.authentication.UserInfo;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.http.MockResponse;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The embedded API's TokenRequest ({@code POST
 * /api/v1/namespaces/{ns}/serviceaccounts/{name}/token}) and TokenReview ({@code POST
 * /apis/authentication.k8s.io/v1/tokenreviews}), as kube-apiserver serves them (its serviceaccount
 * token REST storage, pkg/serviceaccount's JWT authenticator and validator, and the tokenreview
 * storage): bound tokens with Kubernetes' claims, signed by the cluster's {@link
 * ServiceAccountIssuer}, and reviews that check signature, audience, expiry, and that the service
 * account and the pod a token is bound to still exist with the uids it names. Refusals carry the
 * API server's messages. The {@code default} service account of a namespace is made as the
 * service-account controller makes it: when the namespace is created through the API, or, since the
 * embedded API also takes objects in namespaces it never stored, when its first token is asked for.
 */
final class ServiceAccountTokens {
  private static final Logger LOG = Logger.getLogger(ServiceAccountTokens.class.getName());

  /** The API server's audience: its issuer, as kube-apiserver's --api-audiences defaults. */
  static final String API_AUDIENCE = ControlPlane.ISSUER;

  static final String DEFAULT_ACCOUNT = "default";
  static final long DEFAULT_SECONDS = 3600;
  static final long MIN_SECONDS = 600;
  private static final long MAX_SECONDS = 1L << 32;
  // The kube-api-access volume's lifetime, which the API server extends to a year (warning after
  // it) for pod-bound tokens of its own audience (--service-account-extend-token-expiration).
  static final long WARN_ONLY_SECONDS = 3607;
  static final long EXTENDED_SECONDS = 365L * 24 * 3600;
  // go-jose's leeway on exp, nbf and iat, and the API server's grace for deleted objects.
  private static final long LEEWAY_SECONDS = 60;
  private static final String SA_GROUP = "system:serviceaccounts";
  private static final String EXTRA = "authentication.kubernetes.io/";
  private static final ObjectMapper JSON = JsonMapper.builder().build();

  /** The API's objects, as the registry reads and writes them. */
  interface Store {
    /** The object at an API path, or null when there is none. */
    <T extends HasMetadata> T get(String path, Class<T> type);

    /** Stores a new object under a collection path; the stored object, or null if it exists. */
    <T extends HasMetadata> T create(String collection, T object);
  }

  private final ServiceAccountIssuer issuer;
  private final Store store;

  ServiceAccountTokens(ServiceAccountIssuer issuer, Store store) {
    this.issuer = issuer;
    this.store = store;
  }

  /** The namespace's {@code default} service account, made if it is not there yet. */
  ServiceAccount defaultServiceAccount(String namespace) {
    String path = accountPath(namespace, DEFAULT_ACCOUNT);
    ServiceAccount sa = store.get(path, ServiceAccount.class);
    if (sa != null) {
      return sa;
    }
    ServiceAccount made =
        store.create(
            "/api/v1/namespaces/" + namespace + "/serviceaccounts",
            new ServiceAccountBuilder()
                .withNewMetadata()
                .withName(DEFAULT_ACCOUNT)
                .withNamespace(namespace)
                .endMetadata()
                .build());
    if (made != null) {
      LOG.fine("serviceaccount " + namespace + "/" + DEFAULT_ACCOUNT + " made");
      return made;
    }
    return store.get(path, ServiceAccount.class); // made by a concurrent request
  }

  // ---- TokenRequest

  MockResponse tokenRequest(String namespace, String name, String body) {
    TokenRequest req;
    try {
      req =
          body == null || body.isBlank() ? null : Serialization.unmarshal(body, TokenRequest.class);
    } catch (RuntimeException e) {
      return ApiResponses.status(400, "BadRequest", "the TokenRequest cannot be read");
    }
    if (req == null) {
      req = new TokenRequest();
    }
    var meta = req.getMetadata() == null ? new ObjectMetaBuilder().build() : req.getMetadata();
    if (!empty(meta.getName()) && !meta.getName().equals(name)) {
      return invalid(
          name,
          "metadata.name",
          quote(meta.getName()),
          "must match the service account name if specified");
    }
    if (!empty(meta.getNamespace()) && !meta.getNamespace().equals(namespace)) {
      return invalid(
          name,
          "metadata.namespace",
          quote(meta.getNamespace()),
          "must match the service account namespace if specified");
    }
    ServiceAccount sa = serviceAccount(namespace, name);
    if (sa == null) {
      return notFound("serviceaccounts", name);
    }
    TokenRequestSpec spec = req.getSpec() == null ? new TokenRequestSpec() : req.getSpec();
    List<String> audiences =
        spec.getAudiences() == null || spec.getAudiences().isEmpty()
            ? List.of(API_AUDIENCE)
            : List.copyOf(spec.getAudiences());
    long seconds =
        spec.getExpirationSeconds() == null ? DEFAULT_SECONDS : spec.getExpirationSeconds();
    if (seconds < MIN_SECONDS) {
      return invalid(
          "",
          "spec.expirationSeconds",
          Long.toString(seconds),
          "may not specify a duration less than 10 minutes");
    }
    if (seconds > MAX_SECONDS) {
      return invalid(
          "",
          "spec.expirationSeconds",
          Long.toString(seconds),
          "may not specify a duration larger than 2^32 seconds");
    }
    Pod pod = null;
    Node node = null;
    BoundObjectReference ref = spec.getBoundObjectRef();
    if (ref != null) {
      String group = groupOf(ref.getApiVersion());
      if (!group.isEmpty() || !"Pod".equals(ref.getKind())) {
        return ApiResponses.status(
            400,
            "BadRequest",
            "cannot bind token to object of type "
                + group
                + "/"
                + versionOf(ref.getApiVersion())
                + ", Kind="
                + ref.getKind());
      }
      pod = store.get(podPath(namespace, ref.getName()), Pod.class);
      if (pod == null) {
        return notFound("pods", ref.getName());
      }
      if (!name.equals(accountOf(pod))) {
        return ApiResponses.status(
            400,
            "BadRequest",
            "cannot bind token for serviceaccount "
                + quote(name)
                + " to pod running with different serviceaccount name.");
      }
      if (!empty(ref.getUid()) && !ref.getUid().equals(pod.getMetadata().getUid())) {
        return ApiResponses.status(
            409,
            "Conflict",
            "Operation cannot be fulfilled on Pod "
                + quote(ref.getName())
                + ": the UID in the bound object reference ("
                + ref.getUid()
                + ") does not match the UID in record. The object might have been deleted and"
                + " then recreated");
      }
      String nodeName = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
      if (!empty(nodeName)) {
        node = store.get("/api/v1/nodes/" + nodeName, Node.class);
        if (node == null) { // the name alone, as the API server does for a node it cannot find
          node = new NodeBuilder().withNewMetadata().withName(nodeName).endMetadata().build();
        }
      }
    }
    Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    long lifetime = seconds;
    Long warnAfter = null;
    if (pod != null && seconds == WARN_ONLY_SECONDS && audiences.equals(List.of(API_AUDIENCE))) {
      warnAfter = now.getEpochSecond() + seconds;
      lifetime = EXTENDED_SECONDS;
    }
    String token = issuer.sign(claims(sa, pod, node, audiences, now, lifetime, warnAfter));

    TokenRequest out = new TokenRequest();
    out.setMetadata(
        new ObjectMetaBuilder(meta)
            .withName(sa.getMetadata().getName())
            .withNamespace(namespace)
            .withUid(empty(meta.getUid()) ? sa.getMetadata().getUid() : meta.getUid())
            .withCreationTimestamp(now.toString())
            .build());
    spec.setAudiences(new ArrayList<>(audiences));
    spec.setExpirationSeconds(seconds);
    out.setSpec(spec);
    TokenRequestStatus status = new TokenRequestStatus();
    status.setToken(token);
    // The requested lifetime, even when the token's own exp was extended.
    status.setExpirationTimestamp(now.plusSeconds(seconds).toString());
    out.setStatus(status);
    LOG.fine(
        "token for serviceaccount "
            + namespace
            + "/"
            + name
            + (pod == null ? "" : " bound to pod " + namespace + "/" + pod.getMetadata().getName())
            + ", audiences "
            + audiences
            + ", "
            + seconds
            + " s");
    return ApiResponses.created(out);
  }

  /** The claims kube-apiserver puts in a bound token (pkg/serviceaccount/claims.go). */
  private static ObjectNode claims(
      ServiceAccount sa,
      Pod pod,
      Node node,
      List<String> audiences,
      Instant now,
      long lifetime,
      Long warnAfter) {
    ObjectNode c = JSON.createObjectNode();
    String ns = sa.getMetadata().getNamespace();
    c.put("sub", username(ns, sa.getMetadata().getName()));
    var aud = c.putArray("aud");
    audiences.forEach(aud::add);
    c.put("iat", now.getEpochSecond());
    c.put("nbf", now.getEpochSecond());
    c.put("exp", now.getEpochSecond() + lifetime);
    c.put("jti", UUID.randomUUID().toString());
    ObjectNode k = c.putObject("kubernetes.io");
    k.put("namespace", ns);
    ref(k.putObject("serviceaccount"), sa);
    if (pod != null) {
      ref(k.putObject("pod"), pod);
    }
    if (node != null) {
      ref(k.putObject("node"), node);
    }
    if (warnAfter != null) {
      k.put("warnafter", warnAfter);
    }
    return c;
  }

  private static void ref(ObjectNode into, HasMetadata o) {
    into.put("name", o.getMetadata().getName());
    if (!empty(o.getMetadata().getUid())) {
      into.put("uid", o.getMetadata().getUid());
    }
  }

  // ---- TokenReview

  MockResponse tokenReview(String body) {
    TokenReview review;
    try {
      review =
          body == null || body.isBlank() ? null : Serialization.unmarshal(body, TokenReview.class);
    } catch (RuntimeException e) {
      return ApiResponses.status(400, "BadRequest", "the TokenReview cannot be read");
    }
    TokenReviewSpec spec = review == null ? null : review.getSpec();
    if (spec == null || empty(spec.getToken())) {
      return ApiResponses.status(
          400, "BadRequest", "token is required for TokenReview in authentication");
    }
    List<String> wanted =
        spec.getAudiences() == null || spec.getAudiences().isEmpty()
            ? List.of(API_AUDIENCE)
            : List.copyOf(spec.getAudiences());
    TokenReviewStatus status = new TokenReviewStatus();
    try {
      Reviewed r = authenticate(spec.getToken(), wanted);
      status.setAuthenticated(true);
      status.setUser(r.user());
      status.setAudiences(r.audiences());
    } catch (Refused e) {
      status.setUser(new UserInfo());
      status.setError(e.getMessage());
      LOG.fine("TokenReview refused: " + e.getMessage());
    }
    review.setStatus(status);
    return ApiResponses.created(review);
  }

  private record Reviewed(UserInfo user, List<String> audiences) {}

  /** A token the API server does not authenticate, with its reason. */
  private static final class Refused extends Exception {
    Refused(String reason) {
      super(reason);
    }

    /** A token of this issuer that fails its checks: the API server's union of reasons. */
    static Refused invalid(String reason) {
      return new Refused("[invalid bearer token, " + reason + "]");
    }
  }

  /** kube-apiserver's JWT authenticator and service-account validator, in their order. */
  private Reviewed authenticate(String token, List<String> wanted) throws Refused {
    JsonNode claims;
    try {
      claims = issuer.verify(token).orElseThrow(() -> new Refused("invalid bearer token"));
    } catch (ServiceAccountIssuer.BadSignature e) {
      throw Refused.invalid(e.getMessage());
    }
    List<String> tokenAudiences = strings(claims.path("aud"));
    if (tokenAudiences.isEmpty()) {
      tokenAudiences = List.of(API_AUDIENCE); // a legacy token: the API server's own audience
    }
    List<String> audiences = tokenAudiences.stream().filter(wanted::contains).toList();
    if (audiences.isEmpty()) {
      throw Refused.invalid(
          "token audiences "
              + goQuote(tokenAudiences)
              + " is invalid for the target audiences "
              + goQuote(wanted));
    }

    long now = Instant.now().getEpochSecond();
    if (claims.has("exp") && now - LEEWAY_SECONDS > claims.path("exp").asLong()) {
      throw Refused.invalid("service account token has expired");
    }
    if (claims.has("nbf") && now + LEEWAY_SECONDS < claims.path("nbf").asLong()) {
      throw Refused.invalid("service account token is not valid yet");
    }
    if (claims.has("iat") && now + LEEWAY_SECONDS < claims.path("iat").asLong()) {
      throw Refused.invalid(
          "service account token claims could not be validated due to unexpected validation"
              + " error");
    }

    JsonNode k = claims.path("kubernetes.io");
    String ns = k.path("namespace").asString("");
    String saName = k.path("serviceaccount").path("name").asString("");
    String saUid = k.path("serviceaccount").path("uid").asString("");
    Instant deletedBefore = Instant.ofEpochSecond(now - LEEWAY_SECONDS);
    ServiceAccount sa = store.get(accountPath(ns, saName), ServiceAccount.class);
    if (sa == null) {
      throw Refused.invalid("serviceaccounts " + quote(saName) + " not found");
    }
    if (deletedBefore(sa, deletedBefore)) {
      throw Refused.invalid("service account " + ns + "/" + saName + " has been deleted");
    }
    if (!saUid.equals(nullToEmpty(sa.getMetadata().getUid()))) {
      throw Refused.invalid(
          "service account UID ("
              + nullToEmpty(sa.getMetadata().getUid())
              + ") does not match claim ("
              + saUid
              + ")");
    }
    Map<String, List<String>> extra = new LinkedHashMap<>();
    JsonNode podRef = k.path("pod");
    if (podRef.isObject()) {
      String podName = podRef.path("name").asString("");
      String podUid = podRef.path("uid").asString("");
      Pod pod = store.get(podPath(ns, podName), Pod.class);
      if (pod == null || deletedBefore(pod, deletedBefore)) {
        throw Refused.invalid("service account token has been invalidated");
      }
      if (!podUid.equals(nullToEmpty(pod.getMetadata().getUid()))) {
        throw Refused.invalid(
            "pod UID ("
                + nullToEmpty(pod.getMetadata().getUid())
                + ") does not match service account pod ref claim ("
                + podUid
                + ")");
      }
      if (!podName.isEmpty() && !podUid.isEmpty()) {
        extra.put(EXTRA + "pod-name", List.of(podName));
        extra.put(EXTRA + "pod-uid", List.of(podUid));
      }
    }
    String jti = claims.path("jti").asString("");
    if (!jti.isEmpty()) {
      extra.put(EXTRA + "credential-id", List.of("JTI=" + jti));
    }
    JsonNode nodeRef = k.path("node");
    if (nodeRef.isObject() && !nodeRef.path("name").asString("").isEmpty()) {
      extra.put(EXTRA + "node-name", List.of(nodeRef.path("name").asString()));
      if (!nodeRef.path("uid").asString("").isEmpty()) {
        extra.put(EXTRA + "node-uid", List.of(nodeRef.path("uid").asString()));
      }
    }
    UserInfo user = new UserInfo();
    user.setUsername(username(ns, saName));
    user.setUid(saUid);
    user.setGroups(List.of(SA_GROUP, SA_GROUP + ":" + ns, "system:authenticated"));
    user.setExtra(extra);
    return new Reviewed(user, audiences);
  }

  // ---- helpers

  /** The service account, the namespace's default one made if it is the one asked for. */
  private ServiceAccount serviceAccount(String namespace, String name) {
    ServiceAccount sa = store.get(accountPath(namespace, name), ServiceAccount.class);
    return sa == null && DEFAULT_ACCOUNT.equals(name) ? defaultServiceAccount(namespace) : sa;
  }

  /** The pod's service account, {@code default} when unset (as the ServiceAccount admission). */
  private static String accountOf(Pod pod) {
    var spec = pod.getSpec();
    if (spec != null && !empty(spec.getServiceAccountName())) {
      return spec.getServiceAccountName();
    }
    if (spec != null && !empty(spec.getServiceAccount())) {
      return spec.getServiceAccount();
    }
    return DEFAULT_ACCOUNT;
  }

  private static boolean deletedBefore(HasMetadata o, Instant limit) {
    String t = o.getMetadata().getDeletionTimestamp();
    return t != null && Instant.parse(t).isBefore(limit);
  }

  private static String username(String namespace, String name) {
    return "system:serviceaccount:" + namespace + ":" + name;
  }

  private static String accountPath(String namespace, String name) {
    return "/api/v1/namespaces/" + namespace + "/serviceaccounts/" + name;
  }

  private static String podPath(String namespace, String name) {
    return "/api/v1/namespaces/" + namespace + "/pods/" + name;
  }

  private static String groupOf(String apiVersion) {
    return apiVersion == null || !apiVersion.contains("/")
        ? ""
        : apiVersion.substring(0, apiVersion.indexOf('/'));
  }

  private static String versionOf(String apiVersion) {
    return apiVersion == null ? "" : apiVersion.substring(apiVersion.indexOf('/') + 1);
  }

  /** aud as a JWT carries it: one string or an array of them. */
  private static List<String> strings(JsonNode aud) {
    if (aud.isString()) {
      return List.of(aud.asString());
    }
    List<String> out = new ArrayList<>();
    if (aud.isArray()) {
      aud.forEach(a -> out.add(a.asString()));
    }
    return out;
  }

  /** A 422 Invalid, as field validation answers. */
  private static MockResponse invalid(String name, String field, String value, String detail) {
    return ApiResponses.status(
        422,
        "Invalid",
        "TokenRequest.authentication.k8s.io "
            + quote(name)
            + " is invalid: "
            + field
            + ": Invalid value: "
            + value
            + ": "
            + detail);
  }

  private static MockResponse notFound(String resource, String name) {
    return ApiResponses.status(404, "NotFound", resource + " " + quote(name) + " not found");
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** A list as Go's %q prints a []string: ["a" "b"]. */
  private static String goQuote(List<String> values) {
    return values.stream()
        .map(ServiceAccountTokens::quote)
        .collect(Collectors.joining(" ", "[", "]"));
  }

  private static boolean empty(String s) {
    return s == null || s.isEmpty();
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
