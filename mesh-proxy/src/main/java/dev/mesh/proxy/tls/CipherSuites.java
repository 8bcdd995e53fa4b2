package dev.mesh.proxy.tls;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Envoy's {@code tls_params.cipher_suites} (BoringSSL's names, as Istio writes them) as the JDK's
 * names. As in BoringSSL the list governs TLS 1.2 and below; TLS 1.3's suites stay on whenever TLS
 * 1.3 may be negotiated, since the JDK would otherwise be left with none for it.
 */
final class CipherSuites {
  private CipherSuites() {}

  private static final Map<String, String> JDK_NAMES =
      Map.ofEntries(
          Map.entry("ECDHE-ECDSA-AES128-GCM-SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
          Map.entry("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
          Map.entry("ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
          Map.entry("ECDHE-RSA-AES256-GCM-SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
          Map.entry(
              "ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
          Map.entry("ECDHE-RSA-CHACHA20-POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
          Map.entry("ECDHE-ECDSA-AES128-SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
          Map.entry("ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
          Map.entry("ECDHE-ECDSA-AES256-SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
          Map.entry("ECDHE-RSA-AES256-SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
          Map.entry("AES128-GCM-SHA256", "TLS_RSA_WITH_AES_128_GCM_SHA256"),
          Map.entry("AES256-GCM-SHA384", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
          Map.entry("AES128-SHA", "TLS_RSA_WITH_AES_128_CBC_SHA"),
          Map.entry("AES256-SHA", "TLS_RSA_WITH_AES_256_CBC_SHA"));

  private static final List<String> TLS13 =
      List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256");

  /** The JDK's suites for the configured ones; refuses a name it does not know. */
  static List<String> jdkNames(List<String> configured, boolean tls13) {
    List<String> out = new ArrayList<>();
    for (String name : configured) {
      String jdk = JDK_NAMES.get(name);
      if (jdk == null) {
        throw new IllegalArgumentException(
            "tls_params.cipher_suites: '" + name + "' is not a cipher suite mesh-proxy supports");
      }
      out.add(jdk);
    }
    if (tls13) {
      out.addAll(TLS13);
    }
    return out;
  }
}
