package dev.mesh.config.networking;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.generator.annotation.Required;
import java.util.List;
import java.util.Map;

/** The spec of a Gateway, with Istio's field names and shapes. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class GatewaySpec {
  public List<Server> servers;
  public Map<String, String> selector;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Server {
    @Required public Port port;
    public String bind;
    @Required public List<String> hosts;
    public ServerTLSSettings tls;
    public String defaultEndpoint;
    public String name;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ServerTLSSettings {
    public Boolean httpsRedirect;
    public TLSmode mode;
    public String serverCertificate;
    public String privateKey;
    public String caCertificates;
    public String caCrl;
    public String credentialName;
    public List<String> credentialNames;
    public List<String> subjectAltNames;
    public List<String> verifyCertificateSpki;
    public List<String> verifyCertificateHash;
    public TLSProtocol minProtocolVersion;
    public TLSProtocol maxProtocolVersion;
    public List<String> cipherSuites;

    public enum TLSmode {
      PASSTHROUGH,
      SIMPLE,
      MUTUAL,
      AUTO_PASSTHROUGH,
      ISTIO_MUTUAL,
      OPTIONAL_MUTUAL
    }

    public enum TLSProtocol {
      TLS_AUTO,
      TLSV1_0,
      TLSV1_1,
      TLSV1_2,
      TLSV1_3
    }
  }
}
