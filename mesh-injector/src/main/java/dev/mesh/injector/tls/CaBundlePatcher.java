package dev.mesh.injector.tls;

import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.logging.Logger;

/**
 * Puts the webhook's CA into its MutatingWebhookConfiguration's caBundle through the API, as istiod
 * does, so that the API server trusts the webhook's certificate. Where no cluster answers (the
 * injector started on a laptop) it says so, once, and the webhook serves all the same.
 */
public final class CaBundlePatcher {
  private static final Logger LOG = Logger.getLogger(CaBundlePatcher.class.getName());

  private CaBundlePatcher() {}

  /** True when the caBundle is in place. */
  public static boolean patch(KubernetesClient client, String configuration, String caPem) {
    return patch(client, configuration, caPem, true);
  }

  /** The same; {@code report} false keeps a repeated failure out of the log. */
  public static boolean patch(
      KubernetesClient client, String configuration, String caPem, boolean report) {
    String bundle = Base64.getEncoder().encodeToString(caPem.getBytes(StandardCharsets.UTF_8));
    try {
      var resource =
          client
              .admissionRegistration()
              .v1()
              .mutatingWebhookConfigurations()
              .withName(configuration);
      if (resource.get() == null) {
        if (report)
          LOG.warning(
              "MutatingWebhookConfiguration "
                  + configuration
                  + " does not exist: its caBundle was not set (install/mesh.yaml creates it)");
        return false;
      }
      resource.edit(
          w -> {
            for (MutatingWebhook hook : w.getWebhooks()) {
              hook.getClientConfig().setCaBundle(bundle);
            }
            return w;
          });
      LOG.info("caBundle of MutatingWebhookConfiguration " + configuration + " set");
      return true;
    } catch (KubernetesClientException e) {
      if (report)
        LOG.warning(
            "could not patch the caBundle of MutatingWebhookConfiguration "
                + configuration
                + " (no cluster reachable at "
                + client.getMasterUrl()
                + ": "
                + firstLine(e.getMessage())
                + "); the webhook serves, but an API server will not trust it until the caBundle is"
                + " set");
      return false;
    }
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
