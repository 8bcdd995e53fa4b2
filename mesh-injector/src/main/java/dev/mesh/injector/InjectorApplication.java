package dev.mesh.injector;

import dev.mesh.api.MeshPorts;
import dev.mesh.certs.CaBundlePatcher;
import dev.mesh.certs.WebhookCertificates;
import dev.mesh.inject.InjectionSettings;
import dev.mesh.inject.SidecarInjector;
import dev.mesh.inject.SidecarTemplate;
import dev.mesh.injector.admission.Admission;
import dev.mesh.injector.namespaces.NamespaceLabels;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.annotation.Bean;
import org.springframework.context.event.EventListener;

/**
 * mesh-injector: {@code java -jar mesh-injector.jar [--tls-dir=DIR] [--mesh-config=FILE]
 * [--template=FILE] [--proxy-image=IMAGE]}. HTTPS on 15017, {@code POST /inject}. Its certificate
 * comes from DIR (a mounted TLS secret) or is made at start; its CA is put into the
 * MutatingWebhookConfiguration {@value #WEBHOOK_CONFIGURATION}.
 */
@SpringBootApplication
public class InjectorApplication {
  public static final String WEBHOOK_CONFIGURATION = "mesh-sidecar-injector";

  private static WebhookCertificates certificates;

  public static void main(String[] args) throws IOException {
    run(args); // serves until stopped
  }

  /** Starts the webhook (the certificate first: Tomcat needs it to open its port). */
  public static org.springframework.context.ConfigurableApplicationContext run(String... args)
      throws IOException {
    String tlsDir = option(args, "--tls-dir");
    if (tlsDir != null) {
      certificates = WebhookCertificates.fromDirectory(Path.of(tlsDir));
    } else {
      // Made for this run only: the key goes away with the process.
      Path made =
          Files.createTempDirectory("mesh-" + ProcessHandle.current().pid() + "-injector-tls-");
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try (var files = Files.list(made)) {
                      files.forEach(f -> f.toFile().delete());
                    } catch (IOException e) {
                      // best effort at exit
                    }
                    made.toFile().delete();
                  }));
      certificates =
          WebhookCertificates.generate(
              made, WebhookCertificates.namesOf("mesh-injector", "mesh-system"));
    }
    List<String> all = new ArrayList<>(Arrays.asList(args));
    all.add("--server.ssl.certificate=file:" + certificates.certificate());
    all.add("--server.ssl.certificate-private-key=file:" + certificates.privateKey());
    if (option(args, "--server.port") == null) {
      all.add("--server.port=" + MeshPorts.INJECTOR_WEBHOOK);
    }
    SpringApplication app = new SpringApplication(InjectorApplication.class);
    app.setRegisterShutdownHook(true);
    return app.run(all.toArray(String[]::new));
  }

  private static String option(String[] args, String name) {
    for (String a : args) {
      if (a.startsWith(name + "=")) {
        return a.substring(name.length() + 1);
      }
    }
    return null;
  }

  /** The CA the API server must trust for this webhook (PEM). */
  public static String caBundle() {
    return certificates.caBundle();
  }

  @Bean(destroyMethod = "close")
  KubernetesClient kubernetes() {
    return new KubernetesClientBuilder().build();
  }

  @Bean
  InjectionSettings injectionSettings(
      @Value("${mesh-config:}") String meshConfig, @Value("${proxy-image:}") String proxyImage)
      throws IOException {
    InjectionSettings s = InjectionSettings.defaults();
    if (!meshConfig.isEmpty()) {
      s = s.withMeshConfig(Files.readString(Path.of(meshConfig)));
    }
    return proxyImage.isEmpty() ? s : s.withProxyImage(proxyImage);
  }

  @Bean(destroyMethod = "close")
  NamespaceLabels namespaceLabels(KubernetesClient client) {
    return NamespaceLabels.watch(client);
  }

  @Bean
  Admission admission(
      InjectionSettings settings,
      NamespaceLabels namespaces,
      @Value("${template:}") String template)
      throws IOException {
    SidecarTemplate t =
        template.isEmpty()
            ? SidecarTemplate.builtIn()
            : SidecarTemplate.fromFile(Files.readString(Path.of(template)));
    return new Admission(new SidecarInjector(t, settings), settings, namespaces::of);
  }

  @EventListener(ApplicationReadyEvent.class)
  void patchCaBundle(ApplicationReadyEvent ready) {
    Thread t =
        CaBundlePatcher.keepTrying(
            ready.getApplicationContext().getBean(KubernetesClient.class),
            CaBundlePatcher.Kind.MUTATING,
            WEBHOOK_CONFIGURATION,
            certificates.caBundle());
    ready
        .getApplicationContext()
        .addApplicationListener(
            (org.springframework.context.ApplicationListener<
                    org.springframework.context.event.ContextClosedEvent>)
                closed -> t.interrupt());
  }
}
