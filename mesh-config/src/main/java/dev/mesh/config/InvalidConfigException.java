package dev.mesh.config;

import java.util.List;
import java.util.stream.Collectors;

/** Thrown when documents are invalid; the message lists every error, one per line. */
public class InvalidConfigException extends RuntimeException {
  private final List<ConfigError> errors;

  public InvalidConfigException(List<ConfigError> errors) {
    super(errors.stream().map(ConfigError::toString).collect(Collectors.joining("\n")));
    this.errors = List.copyOf(errors);
  }

  public List<ConfigError> errors() {
    return errors;
  }
}
