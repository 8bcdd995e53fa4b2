package dev.mesh.certs;

import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingWebhook;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.logging.Logger;

/**
 * Puts a webhook's CA into its webhook configuration's caBundle through the API, as istiod does, so
 * that the API server trusts the webhook's certificate. Where no cluster answers (a webhook started
 * on a laptop, an API server away for now) it says so, once, and the webhook serves all the same;
 * {@link #keepTrying} tries again until it takes.
 */
public final class CaBundlePatcher {
  private static final Logger LOG = Logger.getLogger(CaBundlePatcher.class.getName());

  private CaBundlePatcher() {}

  /** Which kind of webhook configuration. */
  public enum Kind {
    MUTATING("MutatingWebhookConfiguration"),
    VALIDATING("ValidatingWebhookConfiguration");

    final String kind;

    Kind(String kind) {
      this.kind = kind;
    }
  }

  /** True when the caBundle is in place. */
  public static boolean patch(KubernetesClient client, String configuration, String caPem) {
    return patch(client, Kind.MUTATING, configuration, caPem, true);
  }

  /** The same for either kind; {@code report} false keeps a repeated failure out of the log. */
  public static boolean patch(
      KubernetesClient client, Kind kind, String configuration, String caPem, boolean report) {
    String bundle = Base64.getEncoder().encodeToString(caPem.getBytes(StandardCharsets.UTF_8));
    try {
      var api = client.admissionRegistration().v1();
      boolean found;
      if (kind == Kind.MUTATING) {
        var resource = api.mutatingWebhookConfigurations().withName(configuration);
        found = resource.get() != null;
        if (found) {
          resource.edit(
              w -> {
                for (MutatingWebhook hook : w.getWebhooks()) {
                  hook.getClientConfig().setCaBundle(bundle);
                }
                return w;
              });
        }
      } else {
        var resource = api.validatingWebhookConfigurations().withName(configuration);
        found = resource.get() != null;
        if (found) {
          resource.edit(
              w -> {
                for (ValidatingWebhook hook : w.getWebhooks()) {
                  hook.getClientConfig().setCaBundle(bundle);
                }
                return w;
              });
        }
      }
      if (!found) {
        if (report) {
          LOG.warning(
              kind.kind
                  + " "
                  + configuration
                  + " does not exist: its caBundle was not set (install/mesh.yaml creates it)");
        }
        return false;
      }
      LOG.info("caBundle of " + kind.kind + " " + configuration + " set");
      return true;
    } catch (KubernetesClientException e) {
      if (report) {
        LOG.warning(
            "could not patch the caBundle of "
                + kind.kind
                + " "
                + configuration
                + " (no cluster reachable at "
                + client.getMasterUrl()
                + ": "
                + firstLine(e.getMessage())
                + "); the webhook serves, but an API server will not trust it until the caBundle is"
                + " set");
      }
      return false;
    }
  }

  /**
   * Patches on a daemon thread, off the caller's startup path, and again (1 s doubling to 30 s)
   * until it takes; the first failure is logged. Interrupt the thread to stop it.
   */
  public static Thread keepTrying(
      KubernetesClient client, Kind kind, String configuration, String caPem) {
    Thread t =
        new Thread(
            () -> {
              long backoffMillis = 1_000;
              boolean warned = false;
              while (!Thread.currentThread().isInterrupted()) {
                if (patch(client, kind, configuration, caPem, !warned)) {
                  return;
                }
                warned = true;
                try {
                  Thread.sleep(backoffMillis); // the retry's back-off, not a synchronisation
                } catch (InterruptedException e) {
                  return;
                }
                backoffMillis = Math.min(30_000, backoffMillis * 2);
              }
            },
            "cabundle-" + configuration);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
