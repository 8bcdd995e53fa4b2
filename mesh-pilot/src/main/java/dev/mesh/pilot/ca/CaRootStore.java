package dev.mesh.pilot.ca;

import dev.mesh.certs.CertificateAuthority;
import dev.mesh.security.Pem;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Where the mesh's CA comes from, as istiod decides it: the plug-in Secret {@code cacerts} in
 * pilot's namespace when it exists ({@code ca-cert.pem}, {@code ca-key.pem}, {@code
 * cert-chain.pem}, {@code root-cert.pem}); else the self-signed root in Secret {@code
 * istio-ca-secret}, made by the first pilot that finds none and read by every later one (a pilot
 * that loses the race to create it reads the winner's), so a restart keeps the root.
 */
public final class CaRootStore {
  private static final Logger LOG = Logger.getLogger(CaRootStore.class.getName());

  public static final String PLUGIN_SECRET = "cacerts";
  public static final String SELF_SIGNED_SECRET = "istio-ca-secret";
  public static final String SECRET_TYPE = "istio.io/ca-root";
  public static final String CA_CERT = "ca-cert.pem";
  public static final String CA_KEY = "ca-key.pem";
  public static final String CERT_CHAIN = "cert-chain.pem";
  public static final String ROOT_CERT = "root-cert.pem";
  public static final String KEY = "key.pem";
  // Istio's self-signed root lives ten years.
  static final Duration ROOT_VALIDITY = Duration.ofDays(3650);

  private CaRootStore() {}

  /** The CA of pilot's namespace {@code namespace}, for the mesh of {@code trustDomain}. */
  public static MeshCa load(KubernetesClient client, String namespace, String trustDomain) {
    Secret plugin = client.secrets().inNamespace(namespace).withName(PLUGIN_SECRET).get();
    MeshCa ca;
    if (plugin != null) {
      ca = plugin(plugin, namespace + "/" + PLUGIN_SECRET);
    } else {
      ca = selfSigned(client, namespace, trustDomain);
    }
    LOG.info(
        "CA: signing with "
            + ca.source()
            + ", root "
            + ca.root().getSubjectX500Principal()
            + " (serial "
            + ca.root().getSerialNumber().toString(16)
            + ", valid until "
            + ca.root().getNotAfter().toInstant()
            + ")");
    return ca;
  }

  private static MeshCa plugin(Secret secret, String ref) {
    String caCert = required(secret, CA_CERT, ref);
    String caKey = required(secret, CA_KEY, ref);
    String rootPem = required(secret, ROOT_CERT, ref);
    String chainPem = value(secret, CERT_CHAIN);
    CertificateAuthority signer;
    X509Certificate root;
    List<X509Certificate> chain;
    try {
      signer = CertificateAuthority.load(caCert, caKey);
      root = Pem.certificate(rootPem);
      chain = Pem.certificates(chainPem.isBlank() ? caCert : chainPem);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("Secret " + ref + " (plug-in CA): " + e.getMessage(), e);
    }
    List<X509Certificate> intermediates = new ArrayList<>();
    for (X509Certificate c : chain) {
      if (!c.equals(root)) {
        intermediates.add(c);
      }
    }
    return new MeshCa(signer, intermediates, root, "the plug-in CA of Secret " + ref);
  }

  private static MeshCa selfSigned(KubernetesClient client, String namespace, String trustDomain) {
    String ref = namespace + "/" + SELF_SIGNED_SECRET;
    var resource = client.secrets().inNamespace(namespace).withName(SELF_SIGNED_SECRET);
    Secret stored = resource.get();
    if (stored != null) {
      return fromSelfSigned(stored, "the self-signed root of Secret " + ref);
    }
    CertificateAuthority made =
        CertificateAuthority.create(trustDomain + " mesh CA", ROOT_VALIDITY);
    Map<String, String> data = new LinkedHashMap<>();
    data.put(CA_CERT, b64(made.certificatePem()));
    data.put(CA_KEY, b64(made.keyPem()));
    data.put(CERT_CHAIN, "");
    data.put(KEY, "");
    data.put(ROOT_CERT, "");
    Secret secret =
        new SecretBuilder()
            .withNewMetadata()
            .withName(SELF_SIGNED_SECRET)
            .withNamespace(namespace)
            .endMetadata()
            .withType(SECRET_TYPE)
            .withData(data)
            .build();
    try {
      client.secrets().inNamespace(namespace).resource(secret).create();
      return new MeshCa(
          made, List.of(), made.certificate(), "a new self-signed root, stored in Secret " + ref);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw new IllegalStateException(
            "cannot store the CA's root in Secret " + ref + ": " + e.getStatus().getMessage(), e);
      }
      // Another pilot made it first: everyone signs with the one root.
      Secret winner = resource.get();
      if (winner == null) {
        throw new IllegalStateException(
            "Secret " + ref + " was said to exist but cannot be read", e);
      }
      return fromSelfSigned(
          winner, "the self-signed root of Secret " + ref + " (made by another pilot)");
    }
  }

  private static MeshCa fromSelfSigned(Secret secret, String source) {
    String ref = secret.getMetadata().getNamespace() + "/" + secret.getMetadata().getName();
    try {
      CertificateAuthority ca =
          CertificateAuthority.load(required(secret, CA_CERT, ref), required(secret, CA_KEY, ref));
      return new MeshCa(ca, List.of(), ca.certificate(), source);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("Secret " + ref + ": " + e.getMessage(), e);
    }
  }

  private static String required(Secret secret, String key, String ref) {
    String v = value(secret, key);
    if (v.isBlank()) {
      throw new IllegalStateException("Secret " + ref + " has no " + key);
    }
    return v;
  }

  private static String value(Secret secret, String key) {
    if (secret.getData() != null && secret.getData().get(key) != null) {
      return new String(
          Base64.getDecoder().decode(secret.getData().get(key)), StandardCharsets.UTF_8);
    }
    if (secret.getStringData() != null && secret.getStringData().get(key) != null) {
      return secret.getStringData().get(key);
    }
    return "";
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }
}
