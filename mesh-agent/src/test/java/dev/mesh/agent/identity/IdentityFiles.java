package dev.mesh.agent.identity;

import dev.mesh.agent.config.AgentSettings;
import dev.mesh.agent.config.IdentitySettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A pod's identity material in a temporary directory, laid out as the injector mounts it: the
 * projected token, the mesh's root, the SDS socket's directory; and the agent's settings for them,
 * made from the environment as the agent makes them.
 */
public final class IdentityFiles {
  public final Path dir;
  public final Path token;
  public final Path root;
  public final Path socket;

  public IdentityFiles(Path dir) throws IOException {
    this.dir = dir;
    this.token =
        Files.createDirectories(dir.resolve("var/run/secrets/tokens")).resolve("istio-token");
    this.root =
        Files.createDirectories(dir.resolve("var/run/secrets/istio")).resolve("root-cert.pem");
    this.socket = dir.resolve("var/run/secrets/workload-spiffe-uds/socket");
  }

  public IdentityFiles token(String value) throws IOException {
    Files.writeString(token, value);
    return this;
  }

  public IdentityFiles root(String pem) throws IOException {
    // As the kubelet updates a ConfigMap volume: the new content appears at once, whole.
    Path tmp = root.resolveSibling(".root-cert.pem.tmp");
    Files.writeString(tmp, pem);
    Files.move(
        tmp,
        root,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    return this;
  }

  /** The agent of pod sleep-1 (namespace default, service account sleep), its CA at {@code ca}. */
  public IdentitySettings settings(String ca, Duration ttl) {
    AgentSettings agent =
        AgentSettings.fromEnvironment(
            Map.of(
                "POD_NAME", "sleep-1",
                "POD_NAMESPACE", "default",
                "INSTANCE_IP", "10.44.0.9",
                "SERVICE_ACCOUNT", "sleep",
                "CA_ADDR", ca,
                "SECRET_TTL", ttl.toSeconds() + "s"));
    return agent
        .identity()
        .withFiles(token, root, socket)
        .withTiming(ttl, Duration.ofMillis(100), Duration.ofMillis(400), Duration.ofMillis(100));
  }
}
