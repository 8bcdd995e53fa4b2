package dev.mesh.istioctl;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/**
 * A client of the current kubeconfig's cluster, as kubectl reads it. A kubeconfig does not say its
 * client key's algorithm and fabric8 takes an unlabelled PKCS#8 key ("BEGIN PRIVATE KEY") for RSA,
 * failing with "Invalid DER: object is not integer" on the EC keys kubeadm-style clusters (the
 * local cluster's among them) hand out; kubectl reads both. The algorithm is read off the key.
 */
final class CurrentCluster {
  private CurrentCluster() {}

  static KubernetesClient client() {
    Config config = Config.autoConfigure(null);
    if (config.getClientKeyAlgo() == null || "RSA".equals(config.getClientKeyAlgo())) {
      String algo = algorithm(config);
      if (algo != null) {
        config.setClientKeyAlgo(algo);
      }
    }
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  /** EC or RSA for an unlabelled PKCS#8 key; null when there is none or it says so itself. */
  static String algorithm(Config config) {
    try {
      String pem =
          config.getClientKeyData() != null
              ? new String(Base64.getDecoder().decode(config.getClientKeyData().strip()))
              : config.getClientKeyFile() != null
                  ? Files.readString(Path.of(config.getClientKeyFile()))
                  : null;
      if (pem == null || !pem.contains("-----BEGIN PRIVATE KEY-----")) {
        return null;
      }
      String body =
          pem.substring(
                  pem.indexOf("-----BEGIN PRIVATE KEY-----") + 27,
                  pem.indexOf("-----END PRIVATE KEY-----"))
              .replaceAll("\\s", "");
      byte[] der = Base64.getDecoder().decode(body);
      for (String algo : new String[] {"EC", "RSA"}) {
        try {
          KeyFactory.getInstance(algo).generatePrivate(new PKCS8EncodedKeySpec(der));
          return algo;
        } catch (java.security.GeneralSecurityException notThisOne) {
          // the other one, then
        }
      }
      return null;
    } catch (java.io.IOException | RuntimeException e) {
      return null; // fabric8 then says what is wrong with it
    }
  }
}
