package dev.mesh.pilot.security;

import io.envoyproxy.envoy.config.core.v3.ApiConfigSource;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.ConfigSource;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CertificateValidationContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SdsSecretConfig;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import java.util.List;

/**
 * The workload's certificate and the mesh's root as the sidecar gets them: SDS secrets {@code
 * default} and {@code ROOTCA} from the agent, through the bootstrap's {@code sds-grpc} cluster, as
 * Istio's sidecars are configured.
 */
public final class SdsSecrets {
  private SdsSecrets() {}

  public static final String CERTIFICATE = dev.mesh.api.EnvoyNames.SECRET_WORKLOAD;
  public static final String ROOT = dev.mesh.api.EnvoyNames.SECRET_ROOT_CA;
  public static final String SDS_CLUSTER = dev.mesh.api.EnvoyNames.SDS_CLUSTER;

  private static final ConfigSource SDS =
      ConfigSource.newBuilder()
          .setApiConfigSource(
              ApiConfigSource.newBuilder()
                  .setApiType(ApiConfigSource.ApiType.GRPC)
                  .setSetNodeOnFirstMessageOnly(true)
                  .setTransportApiVersion(ApiVersion.V3)
                  .addGrpcServices(
                      GrpcService.newBuilder()
                          .setEnvoyGrpc(
                              GrpcService.EnvoyGrpc.newBuilder().setClusterName(SDS_CLUSTER))))
          .setResourceApiVersion(ApiVersion.V3)
          .build();

  public static SdsSecretConfig secret(String name) {
    return SdsSecretConfig.newBuilder().setName(name).setSdsConfig(SDS).build();
  }

  /**
   * The workload certificate and the root, the peer's certificate checked against the root and,
   * when given, against these URI SANs (exact).
   */
  public static CommonTlsContext.Builder common(List<String> uriSans) {
    CertificateValidationContext.Builder check = CertificateValidationContext.newBuilder();
    for (String san : uriSans) {
      check.addMatchTypedSubjectAltNames(
          SubjectAltNameMatcher.newBuilder()
              .setSanType(SubjectAltNameMatcher.SanType.URI)
              .setMatcher(StringMatcher.newBuilder().setExact(san)));
    }
    return CommonTlsContext.newBuilder()
        .addTlsCertificateSdsSecretConfigs(secret(CERTIFICATE))
        .setCombinedValidationContext(
            CommonTlsContext.CombinedCertificateValidationContext.newBuilder()
                .setDefaultValidationContext(check)
                .setValidationContextSdsSecretConfig(secret(ROOT)));
  }
}
