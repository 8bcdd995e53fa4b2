package dev.mesh.local;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * A logger's records while a test runs (java.util.logging, as the mesh's modules log), for tests
 * that assert what an operator would read in the log.
 */
public final class LogCapture extends Handler implements AutoCloseable {
  private final Logger logger;
  private final List<LogRecord> records = new ArrayList<>();

  /** The records of {@code logger} and those below it (e.g. dev.mesh.agent, dev.mesh.pilot.ca). */
  public LogCapture(String logger) {
    this.logger = Logger.getLogger(logger);
    this.logger.addHandler(this);
    setLevel(Level.ALL);
  }

  @Override
  public synchronized void publish(LogRecord r) {
    records.add(r);
  }

  public synchronized List<LogRecord> records() {
    return List.copyOf(records);
  }

  /** The messages logged so far, one line each as they would print. */
  public List<String> lines() {
    return records().stream().map(LogRecord::getMessage).toList();
  }

  public boolean has(String part) {
    return lines().stream().anyMatch(l -> l.contains(part));
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    logger.removeHandler(this);
  }
}
