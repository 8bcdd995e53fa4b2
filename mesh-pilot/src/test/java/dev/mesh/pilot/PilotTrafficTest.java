package dev.mesh.pilot;

import java.nio.file.Files;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The traffic scenarios with pilot in file mode: the mesh is YAML in its config directory. */
class PilotTrafficTest extends TrafficScenarios {
  @BeforeAll
  static void start() throws Exception {
    configDir = Files.createDirectories(dir.resolve("config"));
    store = new FileStore(configDir);
    setUp();
  }

  @AfterAll
  static void stop() {
    tearDown();
  }
}
