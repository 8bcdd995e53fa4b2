package dev.mesh.config.served;

import dev.mesh.config.IstioStatus;
import dev.mesh.config.security.AuthorizationPolicySpec;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** security.istio.io/v1beta1 AuthorizationPolicy, served with the v1 schema. */
@Group("security.istio.io")
@Version(value = "v1beta1", storage = false)
@Kind("AuthorizationPolicy")
@Plural("authorizationpolicies")
@Singular("authorizationpolicy")
public class AuthorizationPolicyV1beta1 extends CustomResource<AuthorizationPolicySpec, IstioStatus>
    implements Namespaced {}
