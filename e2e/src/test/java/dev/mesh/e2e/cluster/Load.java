package dev.mesh.e2e.cluster;

import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/**
 * A running LoadClient: its outcomes, one line each ("dueMillis status first-body-line" or
 * "dueMillis fail reason"), readable while it runs.
 */
public interface Load {
  /** The complete outcome lines so far. */
  List<String> lines();

  /** Ends the run (what is in flight completes) and returns every outcome. */
  List<String> stop() throws Exception;

  /** Waits until an answer due at or after {@code since} (epoch ms) satisfies {@code want}. */
  default boolean answers(long since, Predicate<String> want, Duration within)
      throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < deadline) {
      if (lines().stream()
          .anyMatch(l -> Long.parseLong(l.split(" ")[0]) >= since && want.test(l))) {
        return true;
      }
      Thread.sleep(100); // poll interval, bounded by the deadline
    }
    return false;
  }

  /** Whether an outcome line is a 200 answer. */
  static boolean ok(String line) {
    return line.split(" ")[1].equals("200");
  }

  /** The outcome lines that are not 200 answers: failures, and answers of another status. */
  static List<String> failed(List<String> lines) {
    return lines.stream().filter(l -> !ok(l)).toList();
  }

  /** The outcome lines of a LoadClient file's text; a last line still being written is left out. */
  static List<String> complete(String text) {
    int end = text.lastIndexOf('\n');
    return end < 0 ? List.of() : List.of(text.substring(0, end).split("\n"));
  }
}
