package dev.mesh.istioctl;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.Config;
import java.security.KeyPairGenerator;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class CurrentClusterTest {

  static Config withKey(String algo, int bits) throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance(algo);
    g.initialize(bits);
    String pem =
        "-----BEGIN PRIVATE KEY-----\n"
            + Base64.getMimeEncoder().encodeToString(g.generateKeyPair().getPrivate().getEncoded())
            + "\n-----END PRIVATE KEY-----\n";
    Config c = Config.empty();
    c.setClientKeyData(Base64.getEncoder().encodeToString(pem.getBytes()));
    return c;
  }

  @Test
  void anUnlabelledPkcs8KeyIsReadForTheAlgorithmItHolds() throws Exception {
    assertThat(CurrentCluster.algorithm(withKey("EC", 256))).isEqualTo("EC");
    assertThat(CurrentCluster.algorithm(withKey("RSA", 2048))).isEqualTo("RSA");
    assertThat(CurrentCluster.algorithm(Config.empty())).isNull();
  }
}
