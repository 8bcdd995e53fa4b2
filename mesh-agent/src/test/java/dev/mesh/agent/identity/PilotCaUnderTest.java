package dev.mesh.agent.identity;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.authentication.TokenReview;
import io.fabric8.kubernetes.api.model.authentication.TokenReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.List;

/**
 * Pilot's CA (dev.mesh.pilot.ca.PilotCa) running in this JVM, on 127.0.0.1, against fabric8's mock
 * API server answering TokenReview as kube-apiserver does (mesh-pilot's CaTestSupport does the
 * same). Reached by reflection: pilot's classes are on the tests' class path from its build
 * directory (the surefire configuration), since its packaged jar is a Spring Boot jar that
 * compilation cannot read.
 */
public final class PilotCaUnderTest implements AutoCloseable {
  /** A projected token of default/sleep for audience istio-ca. */
  public static final String SLEEP_TOKEN = "token-default-sleep";

  public static final String SLEEP_ID = "spiffe://cluster.local/ns/default/sa/sleep";

  private final AutoCloseable ca;
  private final int port;
  private final String rootPem;

  private PilotCaUnderTest(AutoCloseable ca, int port, String rootPem) {
    this.ca = ca;
    this.port = port;
    this.rootPem = rootPem;
  }

  /** TokenReview as the API server does it, and the namespaces the CA publishes its root in. */
  public static void prepare(KubernetesMockServer server, KubernetesClient client) {
    server
        .expect()
        .post()
        .withPath("/apis/authentication.k8s.io/v1/tokenreviews")
        .andReply(
            201,
            request -> {
              TokenReview asked = Serialization.unmarshal(request.getUtf8Body(), TokenReview.class);
              List<String> audiences = asked.getSpec().getAudiences();
              var answer = new TokenReviewBuilder(asked).withNewStatus();
              if (SLEEP_TOKEN.equals(asked.getSpec().getToken())
                  && audiences != null
                  && audiences.contains("istio-ca")) {
                return answer
                    .withAuthenticated(true)
                    .withAudiences("istio-ca")
                    .withNewUser()
                    .withUsername("system:serviceaccount:default:sleep")
                    .withGroups("system:serviceaccounts", "system:serviceaccounts:default")
                    .endUser()
                    .endStatus()
                    .build();
              }
              return answer
                  .withAuthenticated(false)
                  .withError("invalid bearer token")
                  .endStatus()
                  .build();
            })
        .always();
    for (String ns : List.of("mesh-system", "default")) {
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
          .createOr(n -> n.update());
    }
  }

  /**
   * Starts the CA on {@code port} (0: any); its certificate names 127.0.0.1, as pilot's names the
   * host of the addresses it is given.
   */
  public static PilotCaUnderTest start(KubernetesClient client, int port) throws Exception {
    return start(client, port, null);
  }

  /** The same, serving {@code ads} beside the CA on the one TLS port, as pilot does. */
  public static PilotCaUnderTest start(
      KubernetesClient client, int port, io.grpc.BindableService ads) throws Exception {
    Class<?> pilotCa = Class.forName("dev.mesh.pilot.ca.PilotCa");
    Class<?> settingsType = Class.forName("dev.mesh.pilot.ca.PilotCa$Settings");
    Object settings =
        settingsType.getConstructors()[0].newInstance(
            "mesh-system", "cluster.local", port, "127.0.0.1", List.of("127.0.0.1:" + port));
    Method start =
        pilotCa.getMethod(
            "start", KubernetesClient.class, settingsType, io.grpc.BindableService.class);
    try {
      AutoCloseable ca = (AutoCloseable) start.invoke(null, client, settings, ads);
      int bound = (int) pilotCa.getMethod("port").invoke(ca);
      String root = (String) pilotCa.getMethod("rootPem").invoke(ca);
      return new PilotCaUnderTest(ca, bound, root);
    } catch (InvocationTargetException e) {
      throw e.getCause() instanceof Exception x ? x : e;
    }
  }

  public int port() {
    return port;
  }

  public String address() {
    return "127.0.0.1:" + port;
  }

  public String rootPem() {
    return rootPem;
  }

  @Override
  public void close() throws Exception {
    ca.close();
  }
}
