package dev.mesh.local;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** What tests and the local mesh need of this build: its jars, and polling with a deadline. */
public final class Build {
  private Build() {}

  /**
   * A module's built jar, seen from a sibling module's directory; an error says how to build it.
   */
  public static Path jar(String module, String jar) {
    Path p = Path.of("..", module, "target", jar).toAbsolutePath().normalize();
    if (!Files.isRegularFile(p)) {
      throw new IllegalStateException(p + " is missing: build the reactor (./mvnw verify)");
    }
    return p;
  }

  /** Polls until the condition holds (true) or the time is up (false). */
  public static boolean eventually(BooleanSupplier condition, Duration within) {
    long deadline = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return true;
      }
      try {
        Thread.sleep(50); // poll interval, bounded by the deadline
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return false;
  }
}
