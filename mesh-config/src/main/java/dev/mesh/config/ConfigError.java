package dev.mesh.config;

/**
 * One thing wrong with one document: which document (kind and namespace/name), which field (a path
 * such as {@code spec.http[0].route[1].weight}, empty for the whole document) and what is wrong.
 */
public record ConfigError(String kind, String ref, String field, String message) {

  @Override
  public String toString() {
    String where = field.isEmpty() ? "" : field + ": ";
    return kind + " " + ref + ": " + where + message;
  }
}
