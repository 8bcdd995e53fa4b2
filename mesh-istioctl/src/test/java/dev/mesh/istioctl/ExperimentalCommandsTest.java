package dev.mesh.istioctl;

import static dev.mesh.istioctl.MeshctlRun.meshctl;
import static org.assertj.core.api.Assertions.assertThat;

import dev.mesh.config.IstioResources;
import dev.mesh.local.api.MockApi;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * x describe pod against fabric8's mock API server (CRUD) holding a mesh's objects, as against a
 * cluster; and what the commands that need a pod's sidecar say when there is none.
 */
@EnableKubernetesMockClient(crud = true)
class ExperimentalCommandsTest {
  static KubernetesClient client;

  static final String MESH_STATUS =
      "'{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"revision\":\"default\"}'";

  static Pod pod(String name, String namespace, String labels, boolean sidecar) {
    String yaml =
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: %s
          namespace: %s
          labels: {%s}
          annotations: {sidecar.istio.io/status: %s}
        spec:
          containers:
          - name: app
            image: app:1
            ports: [{name: http, containerPort: 9080, protocol: TCP}]
        %s
        status:
          phase: Running
          containerStatuses:
          - {name: app, ready: true, restartCount: 0, image: "app:1", imageID: ""}
        """
            .formatted(
                name,
                namespace,
                labels,
                sidecar ? MESH_STATUS : "'{}'",
                sidecar
                    ? """
                      - name: istio-proxy
                        image: mesh/proxy:1
                        ports: [{name: http-envoy-prom, containerPort: 15090, protocol: TCP}]
                    """
                    : "");
    return client.getKubernetesSerialization().unmarshal(yaml, Pod.class);
  }

  static void create(HasMetadata o) {
    client.resource(o).create();
  }

  @BeforeAll
  static void mesh() {
    var s = client.getKubernetesSerialization();
    create(
        s.unmarshal(
            """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: mesh, namespace: mesh-system}
            data:
              mesh: |
                rootNamespace: istio-config
                trustDomain: cluster.local
            """,
            ConfigMap.class));
    for (Pod p :
        new Pod[] {
          pod("reviews-v1-7f9c", "default", "app: reviews, version: v1", true),
          pod("details-v1-5d4b", "default", "app: details, version: v1", true),
          pod("web-1", "other", "app: web", true),
          pod("plain", "default", "app: plain, version: v1", false)
        }) {
      Pod made = client.pods().resource(p).create();
      if (made.getStatus() == null || !"Running".equals(made.getStatus().getPhase())) {
        made.setStatus(p.getStatus());
        client.pods().resource(made).updateStatus();
      }
    }
    create(
        s.unmarshal(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: reviews, namespace: default}
            spec:
              selector: {app: reviews}
              ports: [{name: http, port: 9080, targetPort: 9080, protocol: TCP}]
            """,
            Service.class));
    create(
        s.unmarshal(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: ratings, namespace: default}
            spec:
              selector: {app: ratings}
              ports: [{name: http, port: 9080, protocol: TCP}]
            """,
            Service.class));
    for (var r :
        IstioResources.parseAll(
            """
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews, namespace: default}
            spec:
              host: reviews
              trafficPolicy:
                tls: {mode: ISTIO_MUTUAL}
                loadBalancer: {simple: LEAST_REQUEST}
              subsets:
              - {name: v1, labels: {version: v1}}
              - {name: v2, labels: {version: v2}}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews-elsewhere, namespace: other}
            spec:
              host: reviews.default.svc.cluster.local
              trafficPolicy: {tls: {mode: DISABLE}}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: default}
            spec:
              hosts: [reviews]
              http:
              - match: [{headers: {end-user: {exact: jason}}}]
                route: [{destination: {host: reviews, subset: v2}}]
              - route:
                - {destination: {host: reviews, subset: v1}, weight: 80}
                - {destination: {host: reviews, subset: v2}, weight: 20}
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: ratings, namespace: default}
            spec:
              hosts: [ratings]
              http: [{route: [{destination: {host: ratings}}]}]
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: mesh, namespace: istio-config}
            spec: {mtls: {mode: STRICT}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: default, namespace: default}
            spec: {mtls: {mode: PERMISSIVE}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: reviews-mtls, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              mtls: {mode: STRICT}
              portLevelMtls: {"9080": {mode: DISABLE}}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: ratings-off, namespace: default}
            spec:
              selector: {matchLabels: {app: ratings}}
              mtls: {mode: DISABLE}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: stray, namespace: mesh-system}
            spec: {mtls: {mode: DISABLE}}
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: mesh-audit, namespace: istio-config}
            spec:
              action: AUDIT
              rules: [{to: [{operation: {methods: [POST]}}]}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: deny-delete, namespace: default}
            spec:
              selector: {matchLabels: {app: reviews}}
              action: DENY
              rules: [{to: [{operation: {methods: [DELETE]}}]}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: allow-get, namespace: default}
            spec:
              rules:
              - to: [{operation: {methods: [GET]}}]
              - from: [{source: {namespaces: [default]}}]
            ---
            apiVersion: security.istio.io/v1
            kind: AuthorizationPolicy
            metadata: {name: ratings-only, namespace: default}
            spec:
              selector: {matchLabels: {app: ratings}}
              rules: [{}]
            """)) {
      client.resource(r).create();
    }
  }

  @BeforeEach
  void useMock() {
    MockApi.use(client.getMasterUrl().toString());
  }

  @AfterEach
  void forget() {
    MockApi.forget();
  }

  @Test
  void describePodShowsItsServicesRulesAndTheMtlsModeInForce() {
    MeshctlRun r = meshctl("x", "describe", "pod", "reviews-v1-7f9c", "-n", "default");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out())
        .isEqualTo(
            """
            Pod: reviews-v1-7f9c
               Pod Revision: default
               Pod Ports: 9080 (app), 15090 (istio-proxy)
            --------------------
            Service: reviews
               Port: http 9080/HTTP targets pod port 9080
            DestinationRule: reviews for "reviews"
               Matching subsets: v1
                  (Non-matching subsets v2)
               Traffic Policy TLS Mode: ISTIO_MUTUAL
               Policies: load balancer
            VirtualService: reviews
               Route to host "reviews" subset "v1" with weight 80%
               1 additional destination(s) that will not reach this pod
            RBAC policies: ns[istio-config]-policy[mesh-audit]-rule[0], \
            ns[default]-policy[deny-delete]-rule[0], ns[default]-policy[allow-get]-rule[0], \
            ns[default]-policy[allow-get]-rule[1]
            --------------------
            Effective PeerAuthentication:
               Workload mTLS mode: STRICT
               Port Level mTLS mode:
                  9080: DISABLE
            Applied PeerAuthentication:
               mesh.istio-config, default.default, reviews-mtls.default
            Skipping Gateway information (no ingress gateway pods)
            """);
    // name.namespace says the same as -n
    assertThat(meshctl("experimental", "describe", "pod", "reviews-v1-7f9c.default").out())
        .isEqualTo(r.out());
  }

  @Test
  void theNamespacePolicyBeatsTheRootsAndTheRootsHoldsWhereThereIsNoOther() {
    MeshctlRun details = meshctl("x", "describe", "pod", "details-v1-5d4b.default");
    assertThat(details.code()).as(details.err()).isZero();
    assertThat(details.out())
        .contains(
            "Warning: No Kubernetes Services select pod details-v1-5d4b (see"
                + " https://istio.io/docs/setup/kubernetes/additional-setup/requirements/ )\n")
        .contains(
            """
            Effective PeerAuthentication:
               Workload mTLS mode: PERMISSIVE
            Applied PeerAuthentication:
               mesh.istio-config, default.default
            """)
        .doesNotContain("RBAC policies")
        .doesNotContain("Service: ");
    MeshctlRun web = meshctl("x", "des", "po", "web-1.other");
    assertThat(web.code()).as(web.err()).isZero();
    assertThat(web.out())
        .startsWith("Pod: web-1.other\n")
        .contains("Suggestion: add required service revision label for Istio telemetry.")
        .contains(
            """
            Effective PeerAuthentication:
               Workload mTLS mode: STRICT
            Applied PeerAuthentication:
               mesh.istio-config
            """)
        // mesh-system is not this mesh's root namespace: its policy applies to nobody
        .doesNotContain("stray");
  }

  @Test
  void aPodThatIsMissingOrOutsideTheMeshIsOneLineOfError() {
    MeshctlRun missing = meshctl("x", "describe", "pod", "nobody");
    assertThat(missing.code()).isEqualTo(1);
    assertThat(missing.err()).isEqualTo("meshctl x describe pod: pod nobody.default not found\n");

    MeshctlRun plain = meshctl("x", "describe", "pod", "plain");
    assertThat(plain.code()).isEqualTo(1);
    assertThat(plain.out()).contains("WARNING: plain is not part of mesh; no Istio sidecar");
    assertThat(plain.err())
        .isEqualTo(
            "meshctl x describe pod: pod plain.default has no istio-proxy container: it is not in"
                + " the mesh\n");

    // The commands that read the sidecar's admin look the pod up first.
    for (String[] args :
        new String[][] {
          {"x", "authz", "check", "nobody.default"},
          {"proxy-config", "secret", "nobody.default"},
        }) {
      MeshctlRun r = meshctl(args);
      assertThat(r.code()).as(String.join(" ", args)).isEqualTo(1);
      assertThat(r.err()).endsWith(": pod nobody.default not found\n");
      assertThat(r.err().lines()).hasSize(1);
    }
    for (String[] args :
        new String[][] {
          {"x", "authz", "check", "plain.default"},
          {"proxy-config", "secret", "plain.default"},
        }) {
      MeshctlRun r = meshctl(args);
      assertThat(r.code()).as(String.join(" ", args)).isEqualTo(1);
      assertThat(r.err())
          .endsWith(": pod plain.default has no istio-proxy container: it is not in the mesh\n");
    }
  }

  @Test
  void aWrongCommandLineUnderXIsOneLineOfError() {
    MeshctlRun unknown = meshctl("x", "describe", "service", "reviews");
    assertThat(unknown.code()).isEqualTo(2);
    assertThat(unknown.err())
        .isEqualTo(
            "meshctl experimental describe: unknown command 'service' (use pod);"
                + " see 'meshctl experimental describe --help'\n");
    MeshctlRun top = meshctl("x", "frobnicate");
    assertThat(top.code()).isEqualTo(2);
    assertThat(top.err())
        .startsWith("meshctl experimental: unknown command 'frobnicate' (use describe or authz)");
    assertThat(top.err().lines()).hasSize(1);
    MeshctlRun noPod = meshctl("x", "describe", "pod");
    assertThat(noPod.code()).isEqualTo(2);
    assertThat(noPod.err()).startsWith("meshctl experimental describe pod: Missing required");
    assertThat(noPod.err().lines()).hasSize(1);
    MeshctlRun nothing = meshctl("x", "authz", "check");
    assertThat(nothing.code()).isEqualTo(2);
    assertThat(nothing.err())
        .isEqualTo("meshctl x authz check: expecting a pod name or a config dump (-f)\n");
    // x alone shows its commands
    MeshctlRun help = meshctl("x");
    assertThat(help.code()).isZero();
    assertThat(help.out()).contains("describe").contains("authz");
  }
}
