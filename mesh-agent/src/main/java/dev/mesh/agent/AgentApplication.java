package dev.mesh.agent;

import dev.mesh.agent.config.AgentSettings;
import dev.mesh.agent.lifecycle.Sidecar;
import java.util.Arrays;
import java.util.Map;
import org.springframework.boot.Banner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.support.GenericApplicationContext;
import sun.misc.Signal;

/**
 * mesh-agent, Istio's pilot-agent: {@code proxy sidecar} runs the sidecar, the proxy in this JVM;
 * {@code wait} blocks until the sidecar is ready (a postStart hook for
 * holdApplicationUntilProxyStarts).
 *
 * <p>A Spring Boot application (its lifecycle, logging, shutdown and packaging) with no
 * auto-configuration and no component scan: its beans are the sidecar's own, so nothing starts that
 * the sidecar does not use. Every pod pays for what this JVM loads.
 */
@SpringBootConfiguration(proxyBeanMethods = false)
public class AgentApplication {
  static final String USAGE =
      """
      usage: mesh-agent proxy sidecar     run the sidecar (configured by the pod's environment)
             mesh-agent wait [--url URL] [--timeoutSeconds N] [--periodMillis N]
                                          wait until the sidecar is ready (exit 0) or time out (1)
      """;

  @Bean
  Sidecar sidecar(AgentSettings settings) {
    return new Sidecar(settings);
  }

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals("wait")) {
      System.exit(WaitCommand.run(Arrays.copyOfRange(args, 1, args.length)));
    }
    if (args.length < 2 || !args[0].equals("proxy") || !args[1].equals("sidecar")) {
      System.err.print(USAGE);
      System.exit(2);
    }
    AgentSettings settings;
    try {
      settings = AgentSettings.fromEnvironment(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("mesh-agent: " + e.getMessage());
      System.exit(1);
      return;
    }
    SpringApplication app = new SpringApplication(AgentApplication.class);
    app.setBannerMode(Banner.Mode.OFF);
    app.setDefaultProperties(Map.of("spring.main.keep-alive", "true"));
    app.addInitializers(
        ctx -> ((GenericApplicationContext) ctx).registerBean(AgentSettings.class, () -> settings));
    ConfigurableApplicationContext context;
    try {
      context = app.run(Arrays.copyOfRange(args, 2, args.length));
    } catch (RuntimeException e) {
      System.err.println("mesh-agent: " + e.getMessage());
      System.exit(1);
      return;
    }
    // SIGTERM ends the pod: drain (in the context's stop), then exit 0 rather than 143.
    Signal.handle(
        new Signal("TERM"),
        signal ->
            new Thread(
                    () -> System.exit(SpringApplication.exit(context, () -> 0)), "mesh-agent-term")
                .start());
  }
}
